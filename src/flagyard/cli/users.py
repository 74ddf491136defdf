"""`flagyard users`: the people who sign in to the console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from flagyard.errors import DomainError
from flagyard.manage.users import UsersService

users_app = typer.Typer(help="Console users (email, password, role).", no_args_is_help=True)


def _service() -> UsersService:
    from flagyard.cli import _uow

    return UsersService(_uow())


def _fail(error: DomainError) -> None:
    typer.echo(f"error: {error.message}", err=True)
    raise typer.Exit(1)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in address.")],
    role: Annotated[str, typer.Option(help="admin, editor or viewer.")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input.")] = False,
) -> None:
    """Create a user; the password comes from stdin (--password-stdin) or a prompt."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = _service().create(None, email, role, password)
    except DomainError as error:
        _fail(error)
    typer.echo(f"created {user.role.value} {user.email}")


@users_app.command("list")
def users_list() -> None:
    """List users: id, email, role, status."""
    for user in _service().all(None):
        typer.echo(f"{user.id}\t{user.email}\t{user.role.value}\t{'disabled' if user.disabled else 'active'}")


@users_app.command("disable")
def users_disable(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable the user again instead.")] = False,
) -> None:
    """Disable a user (their sessions end at once), or enable them again with --enable."""
    try:
        user = _service().set_disabled(None, email, not enable)
    except DomainError as error:
        _fail(error)
    typer.echo(f"{'disabled' if user.disabled else 'enabled'} {user.email}")


@users_app.command("set-role")
def users_set_role(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    role: Annotated[str, typer.Argument(help="admin, editor or viewer.")],
) -> None:
    """Change a user's role."""
    try:
        user = _service().set_role(None, email, role)
    except DomainError as error:
        _fail(error)
    typer.echo(f"{user.email} is now {user.role.value}")

"""The `flagyard` command: serve, projects, deployments, keys, db.

Scripts depend on the exact output of the create commands: the new id or key alone on stdout.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Annotated, Any

import typer

from flagyard.cli import project_files
from flagyard.config import Settings
from flagyard.errors import DomainError
from flagyard.manage.deployments import DeploymentService
from flagyard.manage.keys import KeyService
from flagyard.manage.model.access import OPERATOR
from flagyard.store import migrate
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import unit_of_work_factory

app = typer.Typer(help="flagyard: feature flags and experiments, Amplitude-compatible.",
                  no_args_is_help=True, add_completion=False)
projects_app = typer.Typer(help="Projects.", no_args_is_help=True)
deployments_app = typer.Typer(help="Deployments and their SDK keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Management API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(projects_app, name="projects")
app.add_typer(deployments_app, name="deployments")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
project_files.register(app)


def _uow(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    migrate.prepare(engine, allow_upgrade=False)
    return unit_of_work_factory(engine)


def _fail(error: DomainError) -> None:
    typer.echo(f"error: {error.message}", err=True)
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Server processes sharing the port.")] = 1,
    migrate_schema: Annotated[bool, typer.Option("--migrate", help="Upgrade a schema that is behind.")] = False,
) -> None:
    """Start the HTTP server (Management API and SDK endpoints)."""
    import uvicorn

    os.environ["FLAGYARD_HOST"] = host
    os.environ["FLAGYARD_PORT"] = str(port)
    if migrate_schema:
        os.environ["FLAGYARD_MIGRATE"] = "true"
    settings = Settings()
    # Prepare the schema once here, so several workers do not race to create it.
    try:
        migrate.prepare(make_engine(settings.database_url), allow_upgrade=settings.migrate)
    except migrate.SchemaBehind as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    from flagyard.answering_protocol import AnsweringProtocol

    uvicorn.run("flagyard.app:app_from_environment", factory=True, host=host, port=port,
                workers=workers, http=AnsweringProtocol, log_level="info", access_log=False, log_config=_log_config(),
                # Open SDK streams would otherwise hold a shutdown forever.
                timeout_graceful_shutdown=3)


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus flagyard's request log as one JSON object per line."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["plain"] = {"format": "%(message)s"}
    config["handlers"]["requests"] = {"class": "logging.StreamHandler", "formatter": "plain",
                                      "stream": "ext://sys.stderr"}
    config["loggers"]["flagyard"] = {"handlers": ["requests"], "level": "INFO", "propagate": False}
    return config


@projects_app.command("create")
def projects_create(name: Annotated[str, typer.Option(help="Project name.")]) -> None:
    """Create a project; prints its id."""
    try:
        project = KeyService(_uow()).create_project(name)
    except DomainError as error:
        _fail(error)
    typer.echo(str(project.id))


@projects_app.command("list")
def projects_list() -> None:
    """List projects: id and name."""
    for project in KeyService(_uow()).projects():
        typer.echo(f"{project.id}\t{project.name}")


@deployments_app.command("create")
def deployments_create(
    project: Annotated[int, typer.Option(help="Project id.")],
    label: Annotated[str, typer.Option(help="Deployment label, e.g. production.")],
    type_: Annotated[str, typer.Option("--type", help="server or client.")] = "server",
    require_approval: Annotated[bool, typer.Option(
        "--require-approval", help="Changes to its flags become change requests someone else approves.")] = False,
) -> None:
    """Create a deployment; prints {"id": ..., "key": ...}."""
    try:
        deployment = DeploymentService(_uow()).create(OPERATOR, project, label, type_, require_approval)
    except DomainError as error:
        _fail(error)
    typer.echo(json.dumps({"id": str(deployment.id), "key": deployment.key}))


@deployments_app.command("require-approval")
def deployments_require_approval(
    deployment: Annotated[int, typer.Argument(help="Deployment id.")],
    off: Annotated[bool, typer.Option("--off", help="Stop requiring approval.")] = False,
) -> None:
    """Make changes to the deployment's flags wait for approval (or, with --off, apply at once)."""
    try:
        DeploymentService(_uow()).edit(OPERATOR, deployment, {"require_approval": not off})
    except DomainError as error:
        _fail(error)
    typer.echo(f"deployment {deployment}: approval {'not ' if off else ''}required")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who uses the key; recorded as createdBy.")],
    project: Annotated[list[int] | None, typer.Option(help="Limit the key to this project (repeatable).")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Allow reads only.")] = False,
    bypass_approvals: Annotated[bool, typer.Option(
        "--bypass-approvals",
        help="Write directly to flags on deployments that require approval (recorded in the audit log).")] = False,
) -> None:
    """Create a management key; prints the key (shown only once)."""
    try:
        issued = KeyService(_uow()).create(name, project or [], read_only, bypass_approvals=bypass_approvals)
    except DomainError as error:
        _fail(error)
    typer.echo(issued.secret)


@keys_app.command("list")
def keys_list() -> None:
    """List management keys (never the keys themselves)."""
    for key in KeyService(_uow()).all_keys():
        scope = ",".join(map(str, key.project_ids)) or "all"
        status = "revoked" if key.revoked_at else "active"
        mode = "read-only" if key.read_only else "read-write"
        if key.bypass_approvals:
            mode += ",bypasses-approvals"
        typer.echo(f"{key.id}\t{key.name}\t{key.hint}…\tprojects={scope}\t{mode}\t{status}")


@keys_app.command("revoke")
def keys_revoke(key_or_id: Annotated[str, typer.Argument(help="The key itself, or its id.")]) -> None:
    """Revoke a management key at once."""
    try:
        key = KeyService(_uow()).revoke(key_or_id)
    except DomainError as error:
        _fail(error)
    typer.echo(f"revoked key {key.id} ({key.name})")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the schema to this version of flagyard."""
    engine = make_engine(Settings().database_url)
    migrate.upgrade(engine)
    typer.echo(f"schema at {migrate.current_revision(engine)}")


@db_app.command("check")
def db_check() -> None:
    """Exit 0 if the schema is current, 1 if it is behind."""
    engine = make_engine(Settings().database_url)
    current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    if current != head:
        typer.echo(f"schema at {current}, needs {head}: run `flagyard db upgrade`", err=True)
        raise typer.Exit(1)
    typer.echo(f"schema current ({head})")


def main() -> None:
    app()


from flagyard.cli.users import users_app  # noqa: E402

app.add_typer(users_app, name="users")

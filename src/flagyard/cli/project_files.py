"""`flagyard export` and `flagyard import`: a project as one YAML or JSON file (flags as code)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Annotated

import typer

from flagyard.config import Settings
from flagyard.errors import DomainError
from flagyard.manage import project_file_codec
from flagyard.manage.model.access import OPERATOR
from flagyard.manage.ports import UnitOfWorkFactory
from flagyard.manage.project_export import ProjectExportService
from flagyard.manage.project_import import ImportResult, ProjectImportService
from flagyard.store import migrate
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import unit_of_work_factory


def _uow() -> UnitOfWorkFactory:
    engine = make_engine(Settings().database_url)
    migrate.prepare(engine, allow_upgrade=False)
    return unit_of_work_factory(engine)


def _fail(error: DomainError) -> None:
    typer.echo(f"error: {error.message}", err=True)
    raise typer.Exit(1)


def export(
    project: Annotated[int, typer.Option(help="Project id.")],
    format: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write to this file, not stdout.")] = None,
) -> None:
    """Write a project's deployments, flags and experiments as one document."""
    if format not in ("yaml", "json"):
        typer.echo("error: --format must be yaml or json", err=True)
        raise typer.Exit(2)
    try:
        document = ProjectExportService(_uow()).export(OPERATOR, project)
    except DomainError as error:
        _fail(error)
    text = project_file_codec.dump(document, "json" if format == "json" else "yaml")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def import_(
    file: Annotated[str, typer.Argument(help="The project file (YAML or JSON); - for stdin.")],
    project: Annotated[int, typer.Option(help="Project id.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    prune: Annotated[bool, typer.Option("--prune",
                                        help="Archive what the file no longer lists.")] = False,
) -> None:
    """Apply a project file: print the plan, then create and update (all or nothing)."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as error:
        typer.echo(f"error: cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(1) from None
    service = ProjectImportService(_uow())
    # Every flag of the file is held at once, and the default cycle collector rescanned them
    # thousands of times (a third of a 10,000-flag import): collect rarely, as the server does.
    gc.set_threshold(50_000, 20, 100)

    def show(plan: ImportResult) -> None:  # before anything is committed
        for line in plan.plan():
            typer.echo(line)

    try:
        raw = project_file_codec.load(text)
        result = service.apply(OPERATOR, project, raw, dry_run=dry_run, prune=prune, on_plan=show)
    except DomainError as error:
        _fail(error)
    if dry_run or not result.changes:
        typer.echo("dry run: nothing applied" if dry_run else "nothing to apply")
        return
    typer.echo(f"applied {len(result.changes)} changes")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)

"""Schema upgrades and the start-up gate."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaBehind(RuntimeError):
    pass


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def prepare(engine: Engine, *, allow_upgrade: bool) -> None:
    """Create the schema on an empty database; refuse a schema that is behind unless allowed."""
    current = current_revision(engine)
    if current == head_revision(engine):
        return
    if current is None or allow_upgrade:
        upgrade(engine)
        return
    raise SchemaBehind(
        f"the database schema is at {current} but this flagyard needs {head_revision(engine)}; "
        "back up the database, then run `flagyard db upgrade` (or start with --migrate)"
    )

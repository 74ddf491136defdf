"""One migration history for SQLite and PostgreSQL, and the start-up gate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from flagyard.store import migrate
from flagyard.store.db import make_engine
from tests.support.server import cli_env, fresh_database_url, run_cli, running_server


def database_at_first_revision(tmp_path: Path) -> str:
    """A fresh database upgraded only to the first migration, like one an old release made."""
    url = fresh_database_url(tmp_path)
    engine = make_engine(url)
    config = migrate.alembic_config(engine)
    first = [rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()][-1]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, first)
    engine.dispose()
    return url


def test_db_upgrade__empty_database__reaches_head_and_matches_the_tables(tmp_path: Path) -> None:
    # Given
    url = fresh_database_url(tmp_path)
    # When
    run_cli(url, "db", "upgrade")
    # Then: db check agrees, and autogenerate finds nothing the migrations miss
    assert run_cli(url, "db", "check").returncode == 0
    engine = make_engine(url)
    config = migrate.alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.check(config)
    engine.dispose()


def test_serve__schema_behind__refuses_to_start_and_says_how_to_upgrade(tmp_path: Path) -> None:
    # Given a database left at the first migration
    url = database_at_first_revision(tmp_path)
    # When
    result = subprocess.run([sys.executable, "-m", "flagyard", "serve", "--port", "1"],
                            env=cli_env(url), capture_output=True, text=True, timeout=60)
    # Then
    assert result.returncode == 1
    assert "flagyard db upgrade" in result.stderr
    assert run_cli(url, "db", "check", check=False).returncode == 1


def test_serve_with_migrate__schema_behind__upgrades_and_serves(tmp_path: Path) -> None:
    # Given
    url = database_at_first_revision(tmp_path)
    # When / Then
    with running_server(url, "--migrate"):
        assert run_cli(url, "db", "check").returncode == 0


def test_migrations__downgrade_one_then_upgrade__round_trips(tmp_path: Path) -> None:
    # Given
    url = fresh_database_url(tmp_path)
    run_cli(url, "db", "upgrade")
    engine = make_engine(url)
    config = migrate.alembic_config(engine)
    head = migrate.head_revision(engine)
    # When
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
        command.upgrade(config, "head")
    # Then
    assert migrate.current_revision(engine) == head
    engine.dispose()

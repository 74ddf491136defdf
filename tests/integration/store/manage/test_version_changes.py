"""What snapshot rebuilds read: which flags changed after a version row, and linked versions.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.migrate import upgrade
from tests.integration.store.manage.test_unit_of_work import (
    add_deployment,
    add_flag,
    add_project,
    make_flag,
    make_version,
)
from tests.support.server import fresh_database_url


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url(tmp_path))
    upgrade(engine)
    yield engine
    engine.dispose()


def _write_version(engine: Engine, flag_id: int, project_id: int, number: int) -> None:
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.versions.add(make_version(flag_id, project_id, number))
        uow.commit()


def test_changed_since__versions_after_a_marker__names_only_those_flags(engine: Engine) -> None:
    # Given: two projects, a version for a and b in the first, one for c in the other
    first, other = add_project(engine, "first"), add_project(engine, "other")
    a, b = add_flag(engine, make_flag(first, "a")), add_flag(engine, make_flag(first, "b"))
    c = add_flag(engine, make_flag(other, "c"))
    _write_version(engine, a, first, 1)
    with SqlUnitOfWork(engine) as uow:
        marker, nothing = uow.versions.changed_since(first, None)
    _write_version(engine, b, first, 1)
    _write_version(engine, c, other, 1)

    # When
    with SqlUnitOfWork(engine) as uow:
        newest, changed = uow.versions.changed_since(first, marker)
        again, unchanged = uow.versions.changed_since(first, newest)

    # Then
    assert nothing == set() and marker > 0
    assert changed == {b}
    assert newest > marker
    assert (again, unchanged) == (newest, set())


def test_versions_linked_to__archived_and_unlinked__left_out(engine: Engine) -> None:
    # Given
    project = add_project(engine)
    deployment = add_deployment(engine, project, "web")
    linked = add_flag(engine, make_flag(project, "linked", deployments=[deployment], version=3))
    add_flag(engine, make_flag(project, "archived", deployments=[deployment], deleted=True))
    add_flag(engine, make_flag(project, "elsewhere"))

    # When
    with SqlUnitOfWork(engine) as uow:
        versions = uow.flags.versions_linked_to(deployment)
        by_id = uow.flags.versions_of([linked, 999_999])

    # Then
    assert versions == {linked: 3}
    assert by_id == {linked: 3}

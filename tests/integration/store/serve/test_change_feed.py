"""The change feed against a real database, and what an unreachable database raises.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from flagyard.errors import Unavailable
from flagyard.manage.model.projects import Project
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.migrate import upgrade
from flagyard.store.serve.change_feed import make_change_feed
from tests.support.server import free_port, fresh_database_url

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url(tmp_path))
    upgrade(engine)
    yield engine
    engine.dispose()


def add_project(engine: Engine, name: str) -> int:
    with SqlUnitOfWork(engine, write=True) as uow:
        project_id = uow.projects.add(Project(name=name, created_at=NOW))
        uow.commit()
    return project_id


def bump(engine: Engine, project_id: int, *, commit: bool) -> None:
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.projects.bump_revision(project_id)
        if commit:
            uow.commit()


def next_report(reports: queue.Queue[frozenset[int] | None], timeout: float = 10) -> frozenset[int] | None:
    return reports.get(timeout=timeout)


def test_feed__committed_change__reported_with_its_project__rolled_back_change__not(engine: Engine) -> None:
    # Given a running feed on two projects
    first, second = add_project(engine, "one"), add_project(engine, "two")
    feed = make_change_feed(engine)
    assert feed is not None
    reports: queue.Queue[frozenset[int] | None] = queue.Queue()
    feed.start(reports.put)
    try:
        # it first says "re-check everything": whatever happened before it listened
        assert next_report(reports) is None
        assert feed.connected
        # When one project's change is rolled back and the other's committed
        bump(engine, first, commit=False)
        bump(engine, second, commit=True)
        # Then only the committed one is reported
        assert next_report(reports) == frozenset({second})
        time.sleep(0.3)
        assert reports.empty()
    finally:
        feed.stop()


def test_unit_of_work__sqlite_file_cannot_be_opened__unavailable(tmp_path: Path) -> None:
    # Given a database file in a directory that is gone
    engine = make_engine(f"sqlite:///{tmp_path / 'gone' / 'flagyard.db'}")
    # When / Then: "database unavailable", which the API answers 503, not an internal error
    with pytest.raises(Unavailable), SqlUnitOfWork(engine) as uow:
        uow.projects.all()
    engine.dispose()


def test_unit_of_work__postgres_not_listening__unavailable_at_once() -> None:
    # Given a PostgreSQL address where nothing listens
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    started = time.monotonic()
    # When / Then
    with pytest.raises(Unavailable), SqlUnitOfWork(engine, write=True) as uow:
        uow.projects.all()
    assert time.monotonic() - started < 5
    engine.dispose()

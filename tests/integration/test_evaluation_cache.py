"""The evaluation cache on a real database: changes are never hidden, outages are ridden out.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from flagyard.errors import Unavailable
from flagyard.manage.model.deployments import Deployment
from flagyard.manage.model.projects import Project
from flagyard.serve.snapshot_cache import SnapshotCache
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.migrate import upgrade
from tests.support.server import fresh_database_url

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
KEY = "server-cache-test"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url(tmp_path))
    upgrade(engine)
    with SqlUnitOfWork(engine, write=True) as uow:
        project_id = uow.projects.add(Project(name="cache", created_at=NOW))
        uow.deployments.add(Deployment(project_id=project_id, label="prod", key=KEY, type="server",
                                       created_at=NOW))
        uow.commit()
    yield engine
    engine.dispose()


class Hooked:
    """A unit of work that runs `before_revision` when the service reads the revision (with the
    deployment, in one query), before the service sees what it read."""

    def __init__(self, engine: Engine, before_revision: Any) -> None:
        self._engine = engine
        self.before_revision = before_revision

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        uow = SqlUnitOfWork(self._engine, write=write)
        hook = self

        class Entered(SqlUnitOfWork):
            def __enter__(self) -> SqlUnitOfWork:
                entered = uow.__enter__()
                read = entered.deployments.get_by_key_with_revision

                def with_revision(key: str) -> tuple[Deployment, int] | None:
                    found = read(key)
                    if found is not None:
                        hook.before_revision(found[0].project_id)
                    return found

                entered.deployments.get_by_key_with_revision = with_revision  # type: ignore[method-assign]
                return entered

            def __exit__(self, *args: Any) -> None:
                uow.__exit__(*args)

        return Entered(self._engine)


def test_change_reported_while_a_refresh_reads__refresh_result_is_due_for_recheck(engine: Engine) -> None:
    # Given a service following a change feed (no timer), and a refresh under way when a change
    # to the project is reported (as when a commit lands while the propagator reads)
    factory = Hooked(engine, lambda _: None)
    service = SnapshotCache(factory, check_interval=math.inf)
    service.snapshot(KEY)
    service.invalidate(None)
    factory.before_revision = lambda project_id: service.invalidate([project_id])
    # When that refresh finishes
    service.refresh(KEY)
    # Then its result is not taken as current: the next request checks the database again
    assert service.cached(KEY) is None
    factory.before_revision = lambda _: None
    service.refresh(KEY)
    assert service.cached(KEY) is not None


def test_database_unreachable__known_key_keeps_its_snapshot__unknown_key_unavailable(engine: Engine) -> None:
    # Given a service that has served the key once
    def down(_: int) -> None:
        raise Unavailable("the database is unreachable")

    factory = Hooked(engine, lambda _: None)
    service = SnapshotCache(factory, check_interval=math.inf)
    before = service.snapshot(KEY)
    # When the database goes away and a change is reported
    factory.before_revision = down
    service.invalidate(None)
    # Then the key is served from the snapshot it had, without asking again on every request
    assert service.snapshot(KEY) is before
    assert service.cached(KEY) is before
    assert service.unreachable_keys() == [KEY]
    # and when it returns, a refresh makes the entry current again
    factory.before_revision = lambda _: None
    assert service.refresh(KEY).revision == before.revision
    assert service.unreachable_keys() == []


def test_database_unreachable__key_never_seen__unavailable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gone' / 'flagyard.db'}")
    service = SnapshotCache(lambda **_: SqlUnitOfWork(engine), check_interval=math.inf)
    with pytest.raises(Unavailable):
        service.snapshot(KEY)
    engine.dispose()

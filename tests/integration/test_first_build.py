"""A starting process builds every deployment's snapshot before it says it is ready.

The propagator's thread builds them (serve/propagation.py, `SnapshotCache.build_all`); /ready
reads `built`. Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names
a server.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from flagyard.errors import Unavailable
from flagyard.manage.model.deployments import Deployment
from flagyard.manage.model.flags import Flag, Kind, Variant
from flagyard.manage.model.projects import Project
from flagyard.manage.model.versions import Version
from flagyard.serve.propagation import Propagator
from flagyard.serve.snapshot_cache import SnapshotCache
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.migrate import upgrade
from tests.support.server import fresh_database_url

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
SERVED = ("server-first-a", "server-first-b", "client-first-c")
ARCHIVED = "server-first-gone"
WAIT = 30  # seconds a thread is given to get somewhere: a bound on a hang, not a timing


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """Two projects: three deployments serving a flag each, and an archived one."""
    engine = make_engine(fresh_database_url(tmp_path))
    upgrade(engine)
    with SqlUnitOfWork(engine, write=True) as uow:
        first = uow.projects.add(Project(name="first", created_at=NOW))
        second = uow.projects.add(Project(name="second", created_at=NOW))
        for project_id, key in ((first, SERVED[0]), (first, SERVED[1]), (second, SERVED[2]), (second, ARCHIVED)):
            deployment = Deployment(project_id=project_id, label=key, key=key, type="server", created_at=NOW,
                                    deleted=key == ARCHIVED)
            uow.deployments.add(deployment)
            uow.flags.add(_flag(project_id, f"flag-{key}", deployment.id))
        uow.projects.bump_revision(first)
        uow.projects.bump_revision(second)
        uow.commit()
    yield engine
    engine.dispose()


def _flag(project_id: int, key: str, deployment_id: int) -> Flag:
    return Flag(project_id=project_id, kind=Kind.FLAG, key=key, bucketing_salt="abcdEFGH", created_at=NOW,
                created_by="ada@example.com", last_modified_at=NOW, last_modified_by="ada@example.com",
                enabled=True, rollout_percentage=100, variants=[Variant(key="on")],
                deployments=[deployment_id], version=1)


class Gated:
    """Units of work on the real database whose revision read (one per deployment built) then
    runs `gate`, which may block or raise, before the build sees what was read."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.gate: Callable[[], None] = lambda: None

    def __call__(self, *, write: bool = False, transaction: bool = True) -> SqlUnitOfWork:
        uow = SqlUnitOfWork(self._engine, write=write, transaction=transaction)
        gated = self

        class Entered(SqlUnitOfWork):
            def __enter__(self) -> SqlUnitOfWork:
                entered = uow.__enter__()
                read = entered.deployments.get_by_key_with_revision

                def with_revision(key: str) -> tuple[Deployment, int] | None:
                    found = read(key)
                    gated.gate()
                    return found

                entered.deployments.get_by_key_with_revision = with_revision  # type: ignore[method-assign]
                return entered

            def __exit__(self, *args: Any) -> None:
                uow.__exit__(*args)

        return Entered(self._engine)


@pytest.fixture
def started(engine: Engine) -> Iterator[Callable[[Callable[[], None]], tuple[SnapshotCache, Propagator]]]:
    propagators: list[Propagator] = []

    def start(gate: Callable[[], None]) -> tuple[SnapshotCache, Propagator]:
        factory = Gated(engine)
        factory.gate = gate
        cache = SnapshotCache(factory, check_interval=math.inf)
        propagator = Propagator(cache)
        propagators.append(propagator)
        propagator.start()
        return cache, propagator

    yield start
    for propagator in propagators:
        propagator.stop()


def test_start__every_unarchived_deployment__built_before_built_is_said(
    started: Callable[[Callable[[], None]], tuple[SnapshotCache, Propagator]],
) -> None:
    # Given a start whose build is held at its first deployment
    reached, release = threading.Event(), threading.Event()

    def hold() -> None:
        reached.set()
        assert release.wait(WAIT)

    cache, propagator = started(hold)
    assert reached.wait(WAIT)
    # Then, while it is held, the process is not built
    assert propagator.built is False
    # When the build goes on
    release.set()
    # Then every unarchived deployment has its snapshot once it says it is built
    assert propagator.wait_built(WAIT)
    for key in SERVED:
        snapshot = cache.current(key)
        assert snapshot is not None and snapshot.deployed_keys == (f"flag-{key}",)
        assert cache.cached(key) is not None  # current: the first request reads no database
    assert cache.current(ARCHIVED) is None


def test_start__database_unreachable__not_built_until_it_answers(
    started: Callable[[Callable[[], None]], tuple[SnapshotCache, Propagator]],
) -> None:
    # Given a start while the database does not answer
    tried = threading.Semaphore(0)
    down = True

    def unreachable() -> None:
        if down:
            tried.release()
            raise Unavailable("the database is unreachable")

    cache, propagator = started(unreachable)
    assert tried.acquire(timeout=WAIT)
    assert tried.acquire(timeout=WAIT)  # and tried again
    assert propagator.built is False
    # When it answers again
    down = False
    # Then the process builds everything and says so
    assert propagator.wait_built(WAIT)
    assert all(cache.current(key) is not None for key in SERVED)


def test_start__change_committed_during_the_build__served_after_it(
    engine: Engine, started: Callable[[Callable[[], None]], tuple[SnapshotCache, Propagator]],
) -> None:
    # Given a build held after it read deployment a's revision
    reached, release = threading.Event(), threading.Event()
    held = [True]

    def hold_once() -> None:
        if held[0]:
            held[0] = False
            reached.set()
            assert release.wait(WAIT)

    cache, propagator = started(hold_once)
    assert reached.wait(WAIT)
    # When another process commits a change to a's flag meanwhile, and the change is reported
    # (as the change feed reports it)
    with SqlUnitOfWork(engine, write=True) as uow:
        flag = uow.flags.page(kind=Kind.FLAG, project_ids=None, key=f"flag-{SERVED[0]}",
                              include_archived=False, before_id=None, limit=1)[0]
        flag.enabled = False
        flag.version += 1
        uow.flags.save(flag)
        uow.versions.add(_version(flag))
        uow.projects.bump_revision(flag.project_id)
        uow.commit()
    propagator.changed([flag.project_id])
    release.set()
    # Then, after the build, the deployment serves the change without any request asking
    assert propagator.wait_built(WAIT)
    deadline = time.monotonic() + WAIT
    while (snapshot := cache.cached(SERVED[0])) is None or snapshot.deployed_keys:
        assert time.monotonic() < deadline, "the change was never served"
        time.sleep(0.01)


def _version(flag: Flag) -> Version:
    return Version(flag_id=flag.id, project_id=flag.project_id, version=flag.version, created_at=NOW,
                   created_by="ada@example.com", flag_config={"version": flag.version})

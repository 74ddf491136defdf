"""Event writers of several processes on one PostgreSQL: ingestion shares the project's lock and
locks its users (ADR 0098). A batch whose user another writer holds is left for a later
transaction instead of holding up the others; the first batch of a group waits for it.

PostgreSQL only (FLAGYARD_TEST_DATABASE_URL): on SQLite one writer runs at a time anyway.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.store.measure.event_repository import SqlEventStore
from flagyard.store.measure.event_writer import GroupCommitWriter
from tests.integration.store.measure.test_event_sums import new_experiment
from tests.integration.store.measure.test_event_writer import (
    held,
    purchase,
    stored_insert_ids,
    storing,
)

pytestmark = pytest.mark.skipif(not os.environ.get("FLAGYARD_TEST_DATABASE_URL"),
                                reason="locks between event writers exist on PostgreSQL only")


@pytest.fixture
def other_writer(engine: Engine) -> Iterator[Callable[[int, set[str]], sa.Connection]]:
    """Another process's event writer, as the database sees it: a transaction that shares a
    project's lock and holds some of its users' locks until the test ends it."""
    opened: list[sa.Connection] = []

    def hold(project_id: int, keys: set[str]) -> sa.Connection:
        conn = engine.connect()
        opened.append(conn)
        conn.begin()
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock_shared(%s, %s)", (0x4576, project_id))
        SqlEventStore(conn).lock_users(project_id, [keys])
        return conn

    yield hold
    for conn in opened:
        conn.close()


def lock_users(engine: Engine, project_id: int, key_sets: list[set[str]], pid: Future[int]) -> list[bool]:
    """What a writer sharing the project gets from `lock_users` with `defer` (its backend's
    pid put in `pid` first); its transaction ends when this returns."""
    with engine.connect() as conn, conn.begin():
        pid.set_result(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        store = SqlEventStore(conn)
        store.lock_project(project_id, per_user=True)
        return store.lock_users(project_id, key_sets, defer=True)


def waiting_for_a_lock(engine: Engine, pid: int) -> bool:
    """Whether that backend waits for a lock, once it does (or after 10 s)."""
    with engine.connect() as conn:
        for _ in range(200):
            if conn.exec_driver_sql("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                                    (pid,)).scalar():
                return True
            time.sleep(0.05)
    return False


def test_lock_users__with_defer__batches_whose_user_is_held_elsewhere_are_left_without_waiting(
        engine: Engine, other_writer: Callable[[int, set[str]], sa.Connection]) -> None:
    # Given another writer holding user-x of the project
    project_id, _, _ = new_experiment(engine)
    other_writer(project_id, {"user-x"})

    # When a writer sharing the project locks three batches' users and devices, deferring
    with engine.connect() as conn, conn.begin():
        store = SqlEventStore(conn)
        store.lock_project(project_id, per_user=True)
        ready = store.lock_users(project_id, [{"user-a", "device-a"}, {"user-b", "user-x"}, {"user-c"}],
                                 defer=True)

        # Then the batch that needs user-x is left, the others may go, and their keys are held
        assert ready == [True, False, True]
        assert lock_users(engine, project_id, [{"user-d"}, {"device-a"}, {"user-b"}], Future()) == [
            True, False, True]


def test_lock_users__first_batch_held_elsewhere__waits_for_that_writer_then_takes_every_batch(
        engine: Engine, other_writer: Callable[[int, set[str]], sa.Connection]) -> None:
    # Given another writer holding user-x, which the first batch needs
    project_id, _, _ = new_experiment(engine)
    other = other_writer(project_id, {"user-x"})

    # When a writer locks the batches' users, it waits for the other (a first batch is never left)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pid: Future[int] = Future()
        answer = pool.submit(lock_users, engine, project_id, [{"user-x"}, {"user-y"}], pid)
        assert waiting_for_a_lock(engine, pid.result(10))
        assert not answer.done()

        # Then, once the other writer commits, it has every batch's users
        other.commit()
        assert answer.result(10) == [True, True]


def test_writer__an_upload_whose_user_is_held_elsewhere__the_others_acknowledged_meanwhile_then_it(
        engine: Engine, other_writer: Callable[[int, set[str]], sa.Connection]) -> None:
    # Given another process's writer holding user-x, and three uploads queued together, the
    # second by user-x
    project_id, _, _ = new_experiment(engine)
    other = other_writer(project_id, {"user-x"})
    writer = GroupCommitWriter(engine)
    try:
        release = held(writer)
        futures = [writer.submit(storing(project_id, [purchase(user, f"d-{user}")]), (project_id,))
                   for user in ("user-a", "user-x", "user-c")]
        release.set()

        # Then the first and the third are stored and acknowledged while user-x is held
        assert futures[0].result(10) is None and futures[2].result(10) is None
        assert stored_insert_ids(engine, project_id) == ["d-user-a", "d-user-c"]
        assert not futures[1].done()
        # And the second, once the other writer lets user-x go
        other.commit()
        assert futures[1].result(10) is None
        assert sorted(stored_insert_ids(engine, project_id)) == ["d-user-a", "d-user-c", "d-user-x"]
    finally:
        writer.close()

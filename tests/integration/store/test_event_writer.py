"""The event writer's group commit: requests queued together share one transaction, and a
failing job fails only itself.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from functools import partial

import pytest
from sqlalchemy.engine import Engine

from flagyard.domain.events import Event
from flagyard.services.event_ports import EventStore
from flagyard.services.event_processing import Batch, store_batches
from flagyard.store.event_writer import EventWriteFailed, GroupCommitWriter
from tests.integration.store.test_event_sums import START, new_experiment


@pytest.fixture
def writer(engine: Engine) -> Iterator[GroupCommitWriter]:
    writer = GroupCommitWriter(engine)
    yield writer
    writer.close()


def purchase(user: str, insert_id: str) -> Event:
    raw = {"event_type": "purchase", "user_id": user, "time": START, "insert_id": insert_id}
    return Event("purchase", user, None, START, insert_id, {}, {}, raw)


def storing(project_id: int, events: list[Event]) -> Callable[[EventStore], None]:
    """The job ingestion submits for one accepted upload."""
    return partial(store_batches, batches=[Batch(project_id, events, START)])


def held(writer: GroupCommitWriter) -> threading.Event:
    """Occupy the writer until the returned event is set, so what is submitted meanwhile
    waits in the queue and runs as one group."""
    release, started = threading.Event(), threading.Event()

    def wait(store: EventStore) -> None:
        started.set()
        release.wait(10)

    writer.submit(wait)
    assert started.wait(10)
    return release


def stored_insert_ids(engine: Engine, project_id: int) -> list[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT dedup_key FROM events WHERE project_id = {int(project_id)} ORDER BY id").all()
    return [key.split("\x1f", 1)[1] for (key,) in rows]


def test_batches_queued_together__one_group__each_acknowledged_and_duplicates_across_them_dropped(
        engine: Engine, writer: GroupCommitWriter) -> None:
    # Given three uploads queued while the writer is busy, the third repeating the first's insert id
    project_id, _, _ = new_experiment(engine)
    release = held(writer)
    futures = [writer.submit(storing(project_id, events), (project_id,)) for events in (
        [purchase("user-a", "i1"), purchase("user-b", "i2")],
        [purchase("user-c", "i3")],
        [purchase("user-a", "i1"), purchase("user-d", "i4")],
    )]
    release.set()

    # Then every upload is acknowledged and each event is stored once, in the order sent
    assert [f.result(10) for f in futures] == [None, None, None]
    assert stored_insert_ids(engine, project_id) == ["i1", "i2", "i3", "i4"]


def test_failing_job_in_a_group__fails_alone__the_batches_around_it_are_stored(
        engine: Engine, writer: GroupCommitWriter) -> None:
    # Given a job that fails queued between two uploads
    project_id, _, _ = new_experiment(engine)

    def broken(store: EventStore) -> None:
        raise RuntimeError("this job fails")

    release = held(writer)
    first = writer.submit(storing(project_id, [purchase("user-a", "j1")]), (project_id,))
    failing: Future[None] = writer.submit(broken)
    last = writer.submit(storing(project_id, [purchase("user-b", "j2")]), (project_id,))
    release.set()

    # Then only that job fails; the uploads are stored and acknowledged
    assert first.result(10) is None and last.result(10) is None
    with pytest.raises(EventWriteFailed):
        failing.result(10)
    assert stored_insert_ids(engine, project_id) == ["j1", "j2"]

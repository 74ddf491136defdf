"""The event writer's group commit: requests queued together share one transaction, the
uploads among them are stored by one call, and a failing job fails only itself.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from sqlalchemy.engine import Engine

from flagyard.measure.model.events import Event
from flagyard.measure.ports import EventStore
from flagyard.measure.processing import Batch, StoreBatches
from flagyard.store.measure.event_writer import EventWriteFailed, GroupCommitWriter
from tests.integration.store.measure.test_event_sums import START, new_experiment
from tests.support.event_writer import held


@pytest.fixture
def writer(engine: Engine) -> Iterator[GroupCommitWriter]:
    writer = GroupCommitWriter(engine)
    yield writer
    writer.close()


def purchase(user: str, insert_id: str) -> Event:
    raw = {"event_type": "purchase", "user_id": user, "time": START, "insert_id": insert_id}
    return Event("purchase", user, None, START, insert_id, {}, {}, raw)


def storing(project_id: int, events: list[Event]) -> StoreBatches:
    """The job ingestion submits for one accepted upload."""
    return StoreBatches((Batch(project_id, events, START),))


def upload(writer: GroupCommitWriter, project_id: int, events: list[Event]) -> Future[None]:
    """Submit one upload's job as ingestion does, with what it touches."""
    job = storing(project_id, events)
    return writer.submit(job, [job.batches[0].scope()])


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
    futures = [upload(writer, project_id, events) for events in (
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
    first = upload(writer, project_id, [purchase("user-a", "j1")])
    failing: Future[None] = writer.submit(broken)
    last = upload(writer, project_id, [purchase("user-b", "j2")])
    release.set()

    # Then only that job fails; the uploads are stored and acknowledged
    assert first.result(10) is None and last.result(10) is None
    with pytest.raises(EventWriteFailed):
        failing.result(10)
    assert stored_insert_ids(engine, project_id) == ["j1", "j2"]


def test_upload_that_cannot_be_stored_in_a_merged_group__fails_alone__the_others_are_stored(
        engine: Engine, writer: GroupCommitWriter) -> None:
    # Given three uploads queued together, the middle one holding a value no JSON can carry
    project_id, _, _ = new_experiment(engine)
    unstorable = purchase("user-b", "k2")
    unstorable.raw = {**unstorable.raw, "event_properties": {"at": object()}}
    release = held(writer)
    futures = [upload(writer, project_id, [event])
               for event in (purchase("user-a", "k1"), unstorable, purchase("user-c", "k3"))]
    release.set()

    # Then that upload alone is refused and nothing of it is stored; the others are
    assert futures[0].result(10) is None and futures[2].result(10) is None
    with pytest.raises(EventWriteFailed):
        futures[1].result(10)
    assert stored_insert_ids(engine, project_id) == ["k1", "k3"]

"""What an event-writer transaction locks (event_locks.py, ADR 0106): on PostgreSQL, writers of
different users run at once, writers of one user one after the other, and a job that touches a
whole project runs alone in it; the writer ends a group before the bucket locks it would take
pass the limit.

The plan's own tests run everywhere; the tests of the locks themselves need PostgreSQL (SQLite's
`BEGIN IMMEDIATE` lets one writer in at a time, whatever it touches) and skip on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.measure.ports import EventStore, Scope
from flagyard.store.measure import event_writer
from flagyard.store.measure.event_locks import MAX_BUCKET_LOCKS, LockPlan, bucket
from flagyard.store.measure.event_repository import SqlEventStore
from flagyard.store.measure.event_writer import GroupCommitWriter
from tests.support.event_writer import held


def keys_in_distinct_buckets(n: int, prefix: str = "user") -> list[str]:
    found: dict[int, str] = {}
    count = 0
    while len(found) < n:
        key = f"{prefix}-{count}"
        found.setdefault(bucket(key), key)
        count += 1
    return list(found.values())


def test_plan__users_of_a_project__the_project_shared_and_their_buckets_in_ascending_order() -> None:
    plan = LockPlan()
    assert plan.admit([Scope(7, frozenset({"b", "a"}))], first=True)
    assert plan.admit([Scope(3, frozenset({"c"}))])

    assert plan.project_locks() == [(3, False), (7, False)]
    locks = plan.bucket_locks()
    assert locks == sorted(locks) and len(locks) == 3


def test_plan__whole_project__exclusive_and_no_bucket_of_it__later_jobs_of_it_admitted_whatever_they_touch() -> None:
    plan = LockPlan(limit=2)
    assert plan.admit([Scope(7, frozenset({"a"}))], first=True)
    assert plan.admit([Scope(7)])
    assert plan.admit([Scope(7, frozenset(keys_in_distinct_buckets(10)))])

    assert plan.project_locks() == [(7, True)]
    assert plan.bucket_locks() == []


def test_plan__job_past_the_limit__refused_and_plan_unchanged__alone_it_takes_the_project_whole() -> None:
    users = keys_in_distinct_buckets(3)
    plan = LockPlan(limit=2)
    assert plan.admit([Scope(7, frozenset(users[:2]))], first=True)
    before = plan.bucket_locks()

    assert not plan.admit([Scope(7, frozenset(users[2:]))])
    assert plan.bucket_locks() == before and plan.project_locks() == [(7, False)]

    alone = LockPlan(limit=2)
    assert alone.admit([Scope(7, frozenset(users))], first=True)
    assert alone.project_locks() == [(7, True)] and alone.bucket_locks() == []


def test_plan__no_limit__admits_everything_and_locks_nothing() -> None:
    plan = LockPlan(limit=None)
    assert plan.admit([Scope(7, frozenset(keys_in_distinct_buckets(MAX_BUCKET_LOCKS + 1)))], first=True)
    assert plan.admit([Scope(8)])
    assert plan.project_locks() == [] and plan.bucket_locks() == []


# --- the locks on PostgreSQL ------------------------------------------------------------------

@pytest.fixture
def postgres(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks: PostgreSQL only (SQLite runs one writer at a time)")
    return engine


@pytest.fixture
def holder(postgres: Engine) -> Iterator[sa.Connection]:
    """A connection whose transaction holds the locks it takes until the test ends."""
    with postgres.connect() as conn, conn.begin() as transaction:
        yield conn
        transaction.rollback()


def plan_of(*scopes: Scope) -> LockPlan:
    plan = LockPlan()
    assert plan.admit(scopes, first=True)
    return plan


def can_lock(engine: Engine, plan: LockPlan) -> bool:
    """Whether another transaction takes the plan's locks (waiting at most 200 ms: the locks
    it waits for are held until the test ends, so a longer wait would change nothing)."""
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
        try:
            SqlEventStore(conn).take_locks(plan)
        except sa.exc.OperationalError as error:
            assert "lock timeout" in str(error)
            return False
        return True


def test_users_locked__other_users_of_the_project_go_on__the_same_user_waits(
        postgres: Engine, holder: sa.Connection) -> None:
    alice, bob = keys_in_distinct_buckets(2)
    SqlEventStore(holder).take_locks(plan_of(Scope(1, frozenset({alice}))))

    assert can_lock(postgres, plan_of(Scope(1, frozenset({bob}))))
    assert can_lock(postgres, plan_of(Scope(2, frozenset({alice}))))  # another project
    assert can_lock(postgres, plan_of(Scope(1, frozenset())))  # nobody's data (a bandit's claim)
    assert not can_lock(postgres, plan_of(Scope(1, frozenset({bob, alice}))))
    assert not can_lock(postgres, plan_of(Scope(1)))  # a recount of the whole project waits


def test_whole_project_locked__every_writer_of_the_project_waits__other_projects_go_on(
        postgres: Engine, holder: sa.Connection) -> None:
    SqlEventStore(holder).take_locks(plan_of(Scope(1)))

    assert not can_lock(postgres, plan_of(Scope(1, frozenset({"alice"}))))
    assert not can_lock(postgres, plan_of(Scope(1, frozenset())))
    assert can_lock(postgres, plan_of(Scope(2, frozenset({"alice"}))))


def test_writer__queued_jobs_past_the_bucket_limit__split_into_groups_on_postgresql_one_group_on_sqlite(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a writer allowed two bucket locks, busy while four jobs of one user each queue
    monkeypatch.setattr(event_writer, "MAX_BUCKET_LOCKS", 2)
    writer = GroupCommitWriter(engine)
    try:
        release = held(writer)
        stores: list[EventStore] = []  # one per transaction, kept so that no id is reused

        def job(store: EventStore) -> int:
            stores.append(store)
            return len(stores)

        futures: list[Future[int]] = [writer.submit(job, [Scope(1, frozenset({user}))])
                                      for user in keys_in_distinct_buckets(4)]
        release.set()

        # Then each job runs; on PostgreSQL two transactions of two jobs, on SQLite one of four
        assert [f.result(10) for f in futures] == [1, 2, 3, 4]
        groups = len({id(store) for store in stores})
        assert groups == (2 if engine.dialect.name == "postgresql" else 1)
    finally:
        writer.close()

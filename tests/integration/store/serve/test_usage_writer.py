"""Usage sums written by several flushes and read back, and the list's staleness filters.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.manage.model.flags import Kind, Variant
from flagyard.manage.ports import FlagQuery
from flagyard.serve.usage import UsageCount
from flagyard.store.manage.flag_search import flag_search_reader
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.serve import usage_writer as writer_module
from flagyard.store.serve.usage_writer import usage_writer
from flagyard.store.tables import flag_usage
from tests.integration.store.manage.test_unit_of_work import (
    add_deployment,
    add_flag,
    add_project,
    make_flag,
)

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def count(project_id: int, deployment_id: int, key: str, day: date, n: int, at: datetime) -> UsageCount:
    return UsageCount(project_id, deployment_id, key, day, n, at)


def test_flushes__add_up_per_flag_deployment_and_day(engine: Engine) -> None:
    # Given a flag evaluated through two deployments, flushed by two processes
    project_id = add_project(engine, "usage-sums")
    first, second = add_deployment(engine, project_id, "u-one"), add_deployment(engine, project_id, "u-two")
    flag_id = add_flag(engine, make_flag(project_id, "usage-sums-flag"))
    write = usage_writer(engine)
    earlier, later = NOW - timedelta(minutes=5), NOW - timedelta(minutes=1)
    write([count(project_id, first, "usage-sums-flag", TODAY, 3, later)])
    write([count(project_id, first, "usage-sums-flag", TODAY, 4, earlier),
           count(project_id, second, "usage-sums-flag", TODAY, 1, earlier),
           count(project_id, first, "no-such-flag", TODAY, 9, later)])
    # When
    with SqlUnitOfWork(engine) as uow:
        days = uow.usage.days(flag_id, TODAY)
        last = uow.usage.last_evaluated(flag_id)
    # Then the sums add, the latest moment stays, and an unknown key is dropped
    assert sorted((d.deployment_id, d.evaluations, d.last_evaluated_at) for d in days) == [
        (first, 7, later), (second, 1, earlier)]
    assert last == {first: later, second: earlier}


def test_prune__drops_old_days_but_each_latest(engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given a flag evaluated long ago on two days, and another evaluated today and long ago
    project_id = add_project(engine, "usage-prune")
    deployment_id = add_deployment(engine, project_id, "u-prune")
    old_flag = add_flag(engine, make_flag(project_id, "usage-old"))
    busy_flag = add_flag(engine, make_flag(project_id, "usage-busy"))
    long_ago = NOW - timedelta(days=200)
    monkeypatch.setattr(writer_module, "PRUNE_EVERY_SECONDS", 0.0)
    write = usage_writer(engine)
    write([count(project_id, deployment_id, "usage-old", long_ago.date(), 1, long_ago),
           count(project_id, deployment_id, "usage-old", long_ago.date() + timedelta(days=1), 2,
                 long_ago + timedelta(days=1)),
           count(project_id, deployment_id, "usage-busy", long_ago.date(), 5, long_ago)])
    # When a later flush prunes
    write([count(project_id, deployment_id, "usage-busy", TODAY, 1, NOW)])
    # Then only each flag's latest day older than the retention is left
    with engine.connect() as connection:
        rows = connection.execute(sa.select(flag_usage.c.flag_id, flag_usage.c.evaluations)
                                  .where(flag_usage.c.flag_id.in_([old_flag, busy_flag]))).all()
    assert sorted(rows) == sorted([(old_flag, 2), (busy_flag, 1)])


def test_search__finds_flags_not_evaluated_or_served_to_everyone_for_n_days(engine: Engine) -> None:
    # Given flags made 40 days ago: one evaluated today, one 35 days ago, one never;
    # one made yesterday; and one on for everyone, unchanged for 40 days
    project_id = add_project(engine, "usage-stale")
    deployment_id = add_deployment(engine, project_id, "u-stale")
    made = NOW - timedelta(days=40)

    def flag(key: str, **fields: object) -> int:
        return add_flag(engine, make_flag(project_id, key, created_at=made, last_modified_at=made, **fields))

    flag("stale-used")
    once, never = flag("stale-once"), flag("stale-never")
    young = add_flag(engine, make_flag(project_id, "stale-young", created_at=NOW - timedelta(days=1)))
    everyone = flag("stale-everyone", enabled=True, rollout_percentage=100, deployments=[deployment_id],
                    variants=[Variant(key="on")])
    flag("stale-partial", enabled=True, rollout_percentage=50, deployments=[deployment_id],
         variants=[Variant(key="on")])
    usage_writer(engine)([
        count(project_id, deployment_id, "stale-used", TODAY, 1, NOW),
        count(project_id, deployment_id, "stale-once", (NOW - timedelta(days=35)).date(), 1,
              NOW - timedelta(days=35)),
        count(project_id, deployment_id, "stale-everyone", TODAY, 1, NOW),
        count(project_id, deployment_id, "stale-partial", TODAY, 1, NOW),
    ])
    search = flag_search_reader(engine)

    def found(**filters: int) -> set[int]:
        query = FlagQuery(kind=Kind.FLAG, project_id=project_id, **filters)  # type: ignore[arg-type]
        return {f.id for f in search(query, before_id=None, limit=100)}

    # Then
    assert found(not_evaluated_days=30) == {once, never}
    assert found(not_evaluated_days=38) == {never}
    assert young in found(not_evaluated_days=1)  # a flag cannot be unused for longer than it exists
    assert young not in found(not_evaluated_days=2)
    assert found(served_to_everyone_days=30) == {everyone}
    assert found(served_to_everyone_days=41) == set()

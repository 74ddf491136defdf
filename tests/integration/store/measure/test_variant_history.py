"""The hourly history of the per-variant sums: batches received in three hours (exposures, then
events, then an exclusion), read back hour by hour and day by day against the totals read right
after each hour's batch; a filtered metric added later, and removed; the migration's backfill.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy.engine import Engine

from flagyard.measure.model.events import Event
from flagyard.measure.model.metrics import Metric, MetricKind, property_key
from flagyard.measure.model.sums import HOUR_MS, RESULT_SUMS
from flagyard.measure.ports import SumsHistory, VariantTotals
from flagyard.measure.processing import Batch, rebuild_metric, store_batches
from flagyard.store import migrate
from flagyard.store.db import make_engine
from flagyard.store.measure.event_repository import SqlEventStore
from flagyard.store.measure.results_read_model import SqlResultsReader
from tests.integration.store.measure.test_event_sums import BIG_ORDERS, EXPOSURE, new_experiment
from tests.support.server import fresh_database_url

DAY_MS = 86_400_000
DAY = 1_714_953_600_000  # 2024-05-06 00:00 UTC
HOURS = [DAY + 22 * HOUR_MS, DAY + 23 * HOUR_MS, DAY + 24 * HOUR_MS]  # the third on the next day
REVENUE = property_key("purchase", "revenue")
KEYS = ["", "purchase", REVENUE]
serial = itertools.count()


def exposure(flag_key: str, user: str, variant: str, at: int) -> Event:
    return event(EXPOSURE, user, at, {"[Experiment] Flag Key": flag_key, "[Experiment] Variant": variant})


def purchase(user: str, revenue: float, at: int) -> Event:
    return event("purchase", user, at, {"revenue": revenue})


def event(event_type: str, user: str, at: int, props: dict[str, Any]) -> Event:
    insert_id = f"h{next(serial)}"
    raw = {"event_type": event_type, "user_id": user, "time": at, "insert_id": insert_id,
           "event_properties": props}
    return Event(event_type, user, None, at, insert_id, props, {}, raw)


def store(engine: Engine, project_id: int, events: list[Event], received_at: int) -> None:
    with engine.connect() as conn, conn.begin():
        store_batches(SqlEventStore(conn), [Batch(project_id, events, received_at)])


def totals(engine: Engine, flag_id: int, key: str) -> list[VariantTotals]:
    with engine.connect() as conn:
        return SqlResultsReader(conn).variant_totals(flag_id, key)


def history(engine: Engine, flag_id: int, key: str, bucket_ms: int) -> list[tuple[int, list[VariantTotals]]]:
    """The key's totals as they stood at the end of each bucket with a change, read through
    `sums_history` (the reader results use) and put in `variant_totals`' shape."""
    with engine.connect() as conn:
        found = SqlResultsReader(conn).sums_history(flag_id, [key], history=True)
    ends = {hour * HOUR_MS // bucket_ms * bucket_ms: n for n, hour in enumerate(found.hours)}
    return [(start, as_totals(found, key, n)) for start, n in sorted(ends.items())]


def as_totals(found: SumsHistory, key: str, look: int) -> list[VariantTotals]:
    names = ("converters",) + RESULT_SUMS[1:]
    sums = (lambda variant: {}) if key == "" else (  # "" holds the exposed users alone
        lambda variant: dict(zip(names, found.at(key, variant)[look].tolist(), strict=True)))
    return [VariantTotals(variant, int(found.at("", variant)[look, 0]), **sums(variant))
            for variant in sorted(found.variants()) if found.at("", variant)[look, 0] > 0]


def history_hours(engine: Engine, flag_id: int, key: str) -> list[int]:
    with engine.connect() as conn:
        return [hour for (hour,) in conn.exec_driver_sql(
            "SELECT DISTINCT hour FROM experiment_variant_history WHERE flag_id = "
            f"{int(flag_id)} AND aggregate_key = '{key}' ORDER BY hour")]


def three_hours(engine: Engine) -> tuple[int, int, str, dict[str, list[list[VariantTotals]]]]:
    """An experiment given one batch in each of HOURS; the totals of each key read right after
    each batch was stored."""
    project_id, flag_id, flag_key = new_experiment(engine)
    half = HOUR_MS // 2
    batches = [
        [exposure(flag_key, user, variant, HOURS[0] + half)
         for user, variant in (("a", "control"), ("b", "treatment"), ("c", "control"), ("d", "treatment"))],
        [purchase("a", 10, HOURS[1] + half), purchase("b", 5, HOURS[1] + half), purchase("b", 7, HOURS[1] + half),
         purchase("d", 30, HOURS[1] + half), exposure(flag_key, "e", "treatment", HOURS[1] + half)],
        [purchase("c", 25, HOURS[2] + half), purchase("a", 3, HOURS[2] + half),
         exposure(flag_key, "d", "control", HOURS[2] + half)],  # d has seen both: excluded
    ]
    seen: dict[str, list[list[VariantTotals]]] = {key: [] for key in KEYS}
    for hour, events in zip(HOURS, batches, strict=True):
        store(engine, project_id, events, hour + half + 1000)
        for key in KEYS:
            seen[key].append(totals(engine, flag_id, key))
    return project_id, flag_id, flag_key, seen


def test_history__three_hours__each_bucket_holds_the_totals_read_at_its_end(engine: Engine) -> None:
    # Given exposures in hour 1, events in hours 2 and 3, and an exclusion in hour 3
    _, flag_id, _, seen = three_hours(engine)

    for key in KEYS:
        hourly = history(engine, flag_id, key, HOUR_MS)
        # Then each hour's entry is what the totals were right after that hour's batch
        assert hourly == list(zip(HOURS, seen[key], strict=True)), key
        # And the last is the totals now
        assert hourly[-1][1] == totals(engine, flag_id, key)
        # And days add up their hours: the first two hours end the first day, the third the next
        assert history(engine, flag_id, key, DAY_MS) == [(DAY, seen[key][1]), (DAY + DAY_MS, seen[key][2])], key

    # The exclusion shows: d left treatment's users and its purchase left treatment's sums
    by_hour = {start: {t.variant: t for t in found} for start, found in history(engine, flag_id, REVENUE, HOUR_MS)}
    assert by_hour[HOURS[1]]["treatment"].users == 3 and by_hour[HOURS[2]]["treatment"].users == 2
    assert by_hour[HOURS[1]]["treatment"].total_sum == 42 and by_hour[HOURS[2]]["treatment"].total_sum == 12
    with engine.connect() as conn:
        assert SqlResultsReader(conn).excluded_users(flag_id) == 1


def test_history__no_hour_keys__the_exposure_series_is_not_repeated(engine: Engine) -> None:
    # Given
    _, flag_id, _, _ = three_hours(engine)
    # Then
    with engine.connect() as conn:
        keys = [key for (key,) in conn.exec_driver_sql(
            f"SELECT DISTINCT aggregate_key FROM experiment_variant_history WHERE flag_id = {int(flag_id)}")]
    assert sorted(keys) == sorted(KEYS)


def test_filtered_metric__added_later__one_history_hour_at_its_rebuild__then_kept__then_dropped(
        engine: Engine) -> None:
    # Given the three hours, then a filtered metric added two hours later
    project_id, flag_id, _, _ = three_hours(engine)
    rebuilt_at = HOURS[2] + 2 * HOUR_MS + 60_000
    with engine.connect() as conn, conn.begin():
        event_store = SqlEventStore(conn)
        (metric,) = event_store.replace_metrics(flag_id, [Metric("purchase", MetricKind.MEAN, "revenue", BIG_ORDERS)])
        rebuild_metric(event_store, project_id, flag_id, metric, rebuilt_at, 7 * 86_400_000)
    key = metric.aggregate_key
    rebuilt_hour = rebuilt_at - rebuilt_at % HOUR_MS

    # Then its history is one hour, the rebuild's: before it the metric had nothing
    assert history_hours(engine, flag_id, key) == [rebuilt_at // HOUR_MS]
    hourly = history(engine, flag_id, key, HOUR_MS)
    assert [start for start, _ in hourly] == [*HOURS, rebuilt_hour]
    assert all(t.converters == 0 and t.total_sum == 0 for _, found in hourly[:-1] for t in found)
    now = totals(engine, flag_id, key)
    assert hourly[-1][1] == now
    assert {t.variant: t.total_sum for t in now} == {"control": 25.0, "treatment": 0.0}

    # And ingestion keeps it from then on
    store(engine, project_id, [purchase("b", 40, rebuilt_at + HOUR_MS)], rebuilt_at + HOUR_MS)
    hourly = history(engine, flag_id, key, HOUR_MS)
    assert [start for start, _ in hourly][-2:] == [rebuilt_hour, rebuilt_hour + HOUR_MS]
    assert hourly[-1][1] == totals(engine, flag_id, key)
    assert {t.variant: t.total_sum for t in hourly[-1][1]} == {"control": 25.0, "treatment": 40.0}

    # And once removed, its history goes with its sums
    with engine.connect() as conn, conn.begin():
        event_store = SqlEventStore(conn)
        event_store.replace_metrics(flag_id, [])
        event_store.drop_totals(flag_id, [key])
    assert history_hours(engine, flag_id, key) == []
    assert all(t.converters == 0 for _, found in history(engine, flag_id, key, HOUR_MS) for t in found)
    assert history_hours(engine, flag_id, "purchase") == [h // HOUR_MS for h in HOURS[1:]] + [
        (rebuilt_at + HOUR_MS) // HOUR_MS]


def test_migration__existing_sums__their_history_starts_whole_at_the_hour_it_ran(tmp_path: Path) -> None:
    # Given sums stored before the history existed (the history table dropped and made again)
    engine = make_engine(fresh_database_url(tmp_path))
    try:
        migrate.upgrade(engine)
        _, flag_id, _, _ = three_hours(engine)
        config = migrate.alembic_config(engine)
        before = int(time.time() * 1000) // HOUR_MS
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "b0c0e0000013")
            command.upgrade(config, "head")
        after = int(time.time() * 1000) // HOUR_MS

        # Then every sum but the hour keys' is copied into the hour of the migration
        with engine.connect() as conn:
            hours = [hour for (hour,) in conn.exec_driver_sql(
                f"SELECT DISTINCT hour FROM experiment_variant_history WHERE flag_id = {int(flag_id)}")]
        assert len(hours) == 1 and before <= hours[0] <= after
        for key in KEYS:
            assert history(engine, flag_id, key, HOUR_MS) == [(hours[0] * HOUR_MS, totals(engine, flag_id, key))]
    finally:
        engine.dispose()

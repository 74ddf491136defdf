"""The per-variant sums that results read, kept up to date batch by batch, against the same sums
computed afterwards from the raw events alone — for random event sequences, arrival orders and
batch groupings (late exposures, exclusions, repeated users).

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from flagyard.manage.model.creation import new_flag
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.projects import Project
from flagyard.measure.model.events import Event
from flagyard.measure.model.metrics import Metric, MetricKind
from flagyard.measure.processing import Batch, rebuild_metric, rebuild_windows, store_batches
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.measure.event_repository import SqlEventStore

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
START = 1_700_000_000_000
EXPOSURE = "[Experiment] Exposure"
serial = itertools.count()


def new_experiment(engine: Engine) -> tuple[int, int, str]:
    """(project id, flag id, flag key) of a new project with one experiment, whose CUPED window
    is one day (the events below span five)."""
    n = next(serial)
    with SqlUnitOfWork(engine, write=True) as uow:
        project_id = uow.projects.add(Project(name=f"p{n}", created_at=NOW))
        flag = new_flag(Kind.EXPERIMENT, project_id, {"key": f"exp-{n}"}, actor="test", now=NOW)
        flag_id = uow.flags.add(flag)
        uow.commit()
    with engine.connect() as conn, conn.begin():
        SqlEventStore(conn).save_analysis(flag_id, {"cupedWindowDays": 1})
    return project_id, flag_id, f"exp-{n}"


# One event: (user, what, step): what is a variant to be exposed to, or a revenue (None: a
# purchase without revenue); steps are four hours apart, so some events fall in the day-long
# CUPED window before a user's exposure and some before it.
events_strategy = st.lists(
    st.tuples(st.integers(0, 5), st.one_of(st.sampled_from(["on", "off"]), st.none(), st.integers(0, 40)),
              st.integers(0, 30)),
    min_size=1, max_size=40,
)
STEP_MS = 4 * 3_600_000
DAY_MS = 86_400_000


def as_event(flag_key: str, n: int, user: int, what: Any, step: int) -> Event:
    user_id = f"user-{user:03d}"
    if isinstance(what, str):
        event_type, props = EXPOSURE, {"[Experiment] Flag Key": flag_key, "[Experiment] Variant": what}
    else:
        event_type, props = "purchase", ({} if what is None else {"revenue": what})
    time = START + step * STEP_MS
    raw = {"event_type": event_type, "user_id": user_id, "time": time, "insert_id": f"i{n}",
           "event_properties": props}
    return Event(event_type, user_id, None, time, f"i{n}", props, {}, raw)


SUMS = ("users", "count_sum", "count_squares", "total_sum", "total_squares", "pre_users", "pre_count_sum",
        "pre_count_squares", "pre_total_sum", "pre_total_squares", "cross_users", "cross_count", "cross_total")


def expected_sums(events: list[Event], window_ms: int = DAY_MS
                  ) -> tuple[dict[tuple[str, str], tuple[float, ...]], int]:
    """From the raw events alone: per (aggregate key, variant) the SUMS over exposed, not
    excluded users (after exposure: y; in the window before it: x, CUPED's covariate); and the
    number excluded."""
    seen: dict[str, set[str]] = defaultdict(set)
    exposed_at: dict[str, int] = {}
    for e in events:
        if e.event_type == EXPOSURE:
            seen[e.user_key].add(e.event_properties["[Experiment] Variant"])
            exposed_at[e.user_key] = min(e.time, exposed_at.get(e.user_key, e.time))
    excluded = sum(1 for variants in seen.values() if len(variants) > 1)
    # per (user, key): count and total after exposure, count and total in the window before it
    per_user: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])
    for e in events:
        user = e.user_key
        if e.event_type != "purchase" or user not in exposed_at or len(seen[user]) > 1:
            continue
        if e.time < exposed_at[user] - window_ms:
            continue
        side = 0 if e.time >= exposed_at[user] else 2
        keys = [("purchase", 0.0)]
        if "revenue" in e.event_properties:
            keys.append(("purchase\x1frevenue", e.event_properties["revenue"]))
        for key, value in keys:
            per_user[(user, key)][side] += 1
            per_user[(user, key)][side + 1] += value
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0] * len(SUMS))
    for variants in seen.values():
        if len(variants) == 1:
            sums[("", next(iter(variants)))][0] += 1
    for (user, key), (count, total, pre_count, pre_total) in per_user.items():
        row = sums[(key, next(iter(seen[user])))]
        y = (float(count > 0), count, count * count, total, total * total)
        x = (float(pre_count > 0), pre_count, pre_count * pre_count, pre_total, pre_total * pre_total)
        cross = (float(count > 0 and pre_count > 0), count * pre_count, total * pre_total)
        for n, value in enumerate(y + x + cross):
            row[n] += value
    return {k: tuple(v) for k, v in sums.items() if any(v)}, excluded


def stored_sums(engine: Engine, flag_id: int) -> tuple[dict[tuple[str, str], tuple[float, ...]], int]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT aggregate_key, variant, excluded, {', '.join(SUMS)} "
            f"FROM experiment_variant_stats WHERE flag_id = {int(flag_id)}").all()
    sums: dict[tuple[str, str], tuple[float, ...]] = {}
    excluded = 0
    for key, variant, excluded_here, *values in rows:
        if key.startswith("@h"):
            continue
        excluded += excluded_here
        if key == "":
            values = [values[0]] + [0.0] * (len(SUMS) - 1)
        if any(values):
            sums[(key, variant)] = tuple(float(v) for v in values)
    return sums, excluded


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=events_strategy, cuts=st.lists(st.integers(1, 39), max_size=6),
       groups=st.lists(st.integers(1, 3), min_size=1, max_size=8))
def test_variant_sums__any_arrival_order_and_batching__equal_the_sums_from_raw_events(
    engine: Engine, sequence: list[tuple[int, Any, int]], cuts: list[int], groups: list[int]
) -> None:
    # Given an experiment and events sent as batches, several batches per transaction
    project_id, flag_id, flag_key = new_experiment(engine)
    events = [as_event(flag_key, n, *spec) for n, spec in enumerate(sequence)]
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    batches = [Batch(project_id, events[a:b], START) for a, b in itertools.pairwise(bounds)]
    sizes = itertools.cycle(groups)
    while batches:
        size = next(sizes)
        with engine.connect() as conn, conn.begin():
            store_batches(SqlEventStore(conn), batches[:size])
        batches = batches[size:]

    # Then the maintained sums equal the sums computed from the raw events
    stored, stored_excluded = stored_sums(engine, flag_id)
    expected, expected_excluded = expected_sums(events)
    assert stored_excluded == expected_excluded
    assert stored.keys() == expected.keys()
    for key, values in expected.items():
        assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(stored[key], values, strict=True)), key


BIG_ORDERS = [{"subprop_type": "event", "subprop_key": "revenue", "subprop_op": "greater or equal",
               "subprop_value": ["20"]}]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=events_strategy, cut=st.integers(1, 39))
def test_filtered_metric__added_later_then_removed__sums_from_raw_events_then_gone(
    engine: Engine, sequence: list[tuple[int, Any, int]], cut: int
) -> None:
    # Given events stored before a filtered metric exists, and more after it was added
    project_id, flag_id, flag_key = new_experiment(engine)
    events = [as_event(flag_key, n, *spec) for n, spec in enumerate(sequence)]
    with engine.connect() as conn, conn.begin():
        store_batches(SqlEventStore(conn), [Batch(project_id, events[:cut], START)])
    with engine.connect() as conn, conn.begin():
        store = SqlEventStore(conn)
        (metric,) = store.replace_metrics(flag_id, [Metric("purchase", MetricKind.MEAN, "revenue", BIG_ORDERS)])
        rebuild_metric(store, project_id, flag_id, metric, START, DAY_MS)
    with engine.connect() as conn, conn.begin():
        store_batches(SqlEventStore(conn), [Batch(project_id, events[cut:], START)])

    # Then its sums are those of the matching events, counted as if it had always existed
    stored, _ = stored_sums(engine, flag_id)
    big = [e for e in events if e.event_type == EXPOSURE or e.event_properties.get("revenue", -1) >= 20]
    expected, _ = expected_sums(big)
    key = f"#{metric.id}"
    want = {variant: values for (k, variant), values in expected.items() if k == "purchase\x1frevenue"}
    got = {variant: values for (k, variant), values in stored.items() if k == key}
    assert got.keys() == want.keys()
    for variant, values in want.items():
        assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(got[variant], values, strict=True))

    # And once removed, no sum and no user's totals keep it
    with engine.connect() as conn, conn.begin():
        store = SqlEventStore(conn)
        store.replace_metrics(flag_id, [])
        store.drop_totals(flag_id, [key])
    assert not [k for k, _ in stored_sums(engine, flag_id)[0] if k == key]
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT totals FROM experiment_exposures WHERE flag_id = {int(flag_id)}").all()
    assert rows == [] or all(key not in json.loads(totals) for (totals,) in rows)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=events_strategy, days=st.integers(1, 6))
def test_cuped_window__changed_after_the_fact__sums_recounted_from_raw_events(
    engine: Engine, sequence: list[tuple[int, Any, int]], days: int
) -> None:
    # Given events counted with a one-day window
    project_id, flag_id, flag_key = new_experiment(engine)
    events = [as_event(flag_key, n, *spec) for n, spec in enumerate(sequence)]
    with engine.connect() as conn, conn.begin():
        store_batches(SqlEventStore(conn), [Batch(project_id, events, START)])
    # When the window changes
    with engine.connect() as conn, conn.begin():
        rebuild_windows(SqlEventStore(conn), project_id, flag_id, days * DAY_MS, [], START)
    # Then the sums are those of the new window, and the metrics' own sums did not move
    stored, _ = stored_sums(engine, flag_id)
    expected, _ = expected_sums(events, days * DAY_MS)
    assert {k for k, v in stored.items() if any(v)} == expected.keys()
    for key, values in expected.items():
        assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(stored[key], values, strict=True)), key

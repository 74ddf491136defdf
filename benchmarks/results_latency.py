"""Latency of `GET /api/1/experiments/{id}/results` for an experiment that has run for 30 days,
with 1,000,000 exposed users and the totals of about 10,000,000 events, on SQLite or PostgreSQL,
read with each analysis: the t-test, the sequential test (the default), the sequential test with
CUPED, and the last over time (`interval=day`).

Sending ten million events through ingestion would take this machine most of an hour, so the
rows ingestion maintains are generated in bulk directly in the database, in the shape ingestion
writes them:

- `experiment_exposures`: one row per user (half control, half treatment, 0.2 % excluded),
  exposures spread evenly over the first 29 days. The 60 % of users who bought have one
  `purchase` total and one `purchase.revenue` total (counts 1–33, about 10,000,000 events in
  all), their first purchase within a day of their exposure. 40 % of those buyers, and 10 % of
  the users who did not buy, also bought in the 7 days before their exposure (CUPED's window):
  their totals are `[count, total, first time, pre count, pre total]`, the others'
  `[count, total, first time]`. Pre-exposure counts are correlated with the later ones, so CUPED
  has something to remove.
- `experiment_variant_stats`: the fourteen per-variant sums (users, Σ counts and totals and
  their squares, the eight of CUPED: the covariate's users, sums and squares, the cross
  products), computed by SQL from the per-user rows above, plus the per-hour exposure counts.
- `experiment_variant_history`: what each hour added to those sums, a row per key, variant and
  hour (about 4,300 rows over 721 hours). A user's pre-exposure part lands in the hour of their exposure (ingestion's backfill
  counts it then) and all of their later purchases in the hour of their first one (in reality
  they would spread over later hours too: the number of rows, which is what a results read
  walks, is the same). The script checks that the history adds up to the sums.

The experiment has no stored metrics, so each request's family is the metric it asks for
(conversion, mean revenue or count of `purchase`); stored metrics would each add their history
to every read. The server is the real one (`flagyard serve`), queried over HTTP; the analysis is
set with `PUT …/analysis`; the configurations are timed in turn, round after round (the first a
warm-up), and each figure is the median of 5 requests. The ratios are to the t-test's median of
the same metric.

    .venv/bin/python benchmarks/results_latency.py [--users 1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support import server as support  # noqa: E402
from tests.support.server import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    running_server,
)

# A loaded machine can take more than the tests' 30 s to start a server.
support.wait_until_up = functools.partial(support.wait_until_up, timeout=180)

REPEAT = 5


START_MS = 1_790_000_000_000
DAY_MS = 86_400_000
EXPOSURE_DAYS = 29  # exposures over 29 days, first purchases up to a day later: a month of hours
SUMS = ("users", "excluded", "count_sum", "count_squares", "total_sum", "total_squares",
        "pre_users", "pre_count_sum", "pre_count_squares", "pre_total_sum", "pre_total_squares",
        "cross_users", "cross_count", "cross_total")  # measure/model/sums.py's order

# User n, as SQL over the series' `n`.
BUYER = "n % 10 < 6"
COUNT = "((n * 7919) % 33 + 1)"  # purchases after exposure, 1..33
PRICE = "(5 + n % 40)"
# Bought in the 7 days before exposure: 40 % of buyers, 10 % of the others.
PRE = f"(({BUYER}) AND (n / 10) % 5 < 2 OR NOT ({BUYER}) AND (n / 10) % 10 = 0)"
PRE_COUNT = f"(CASE WHEN {BUYER} THEN ({COUNT} + (n * 31) % 33) / 4 + 1 ELSE (n * 31) % 5 + 1 END)"


def series(dialect: str, users: int) -> str:
    if dialect == "postgresql":
        return f"SELECT n FROM generate_series(0::bigint, {users - 1}) AS g(n)"
    return f"WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < {users - 1}) SELECT n FROM c"


class _Percent:
    """psycopg reads `%` as a placeholder: double it there (the SQL below uses `%` as modulo)."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._double = conn.dialect.name == "postgresql"

    def exec_driver_sql(self, sql: str) -> sa.CursorResult[Any]:
        return self._conn.exec_driver_sql(sql.replace("%", "%%") if self._double else sql)


def generate(database_url: str, flag_id: int, project_id: int, users: int) -> dict[str, int | float]:
    engine = sa.create_engine(database_url)
    started = time.perf_counter()
    with engine.begin() as raw_conn:
        conn = _Percent(raw_conn)
        dialect = raw_conn.dialect.name
        false, true = ("false", "true") if dialect == "postgresql" else ("0", "1")
        nums = series(dialect, users)
        exposed_at = f"{START_MS} + n * {EXPOSURE_DAYS * DAY_MS} / {users}"
        conn.exec_driver_sql(
            "INSERT INTO experiment_exposures (flag_id, user_key, project_id, variant, exposed_at, excluded) "
            f"SELECT {flag_id}, 'user-' || n, {project_id}, CASE WHEN n % 2 = 0 THEN 'control' ELSE 'treatment' END, "
            f"{exposed_at}, CASE WHEN n % 500 = 0 THEN {true} ELSE {false} END FROM ({nums}) AS s")
        # Each user's totals per key as rows in a scratch table first (count 0: pre-exposure
        # events only; pre_count 0: none), then folded into the user's totals object.
        conn.exec_driver_sql("CREATE TEMPORARY TABLE bench_totals (aggregate_key TEXT, user_key TEXT, "
                             "count BIGINT, total FLOAT, first_at BIGINT, pre_count BIGINT, pre_total FLOAT)")
        first_at = f"{exposed_at} + (n * 104729) % {DAY_MS}"
        for key, price in (("purchase", "0"), ("purchase\x1frevenue", PRICE)):
            conn.exec_driver_sql(
                "INSERT INTO bench_totals (aggregate_key, user_key, count, total, first_at, pre_count, pre_total) "
                f"SELECT '{key}', 'user-' || n, "
                f"CASE WHEN {BUYER} THEN {COUNT} ELSE 0 END, CASE WHEN {BUYER} THEN {COUNT} * {price} ELSE 0 END, "
                f"CASE WHEN {BUYER} THEN {first_at} ELSE 0 END, "
                f"CASE WHEN {PRE} THEN {PRE_COUNT} ELSE 0 END, CASE WHEN {PRE} THEN {PRE_COUNT} * {price} ELSE 0 END "
                f"FROM ({nums}) AS s WHERE {BUYER} OR {PRE}")
        conn.exec_driver_sql("CREATE INDEX bench_totals_user ON bench_totals (user_key)")
        # The counted users' rows with their variant and exposure: what the sums are made of.
        conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE bench_counted AS SELECT t.*, x.variant, x.exposed_at "
            f"FROM bench_totals t JOIN experiment_exposures x ON x.flag_id = {flag_id} AND x.user_key = t.user_key "
            f"WHERE x.exposed_at IS NOT NULL AND x.excluded = {false}")
        columns = "flag_id, aggregate_key, variant, " + ", ".join(SUMS)
        # The per-variant sums ingestion keeps in step (sums.add_user), each in one pass.
        conn.exec_driver_sql(
            f"INSERT INTO experiment_variant_stats ({columns}) SELECT {flag_id}, '', variant, "
            f"sum(CASE WHEN excluded = {false} THEN 1 ELSE 0 END), sum(CASE WHEN excluded = {true} THEN 1 ELSE 0 END), "
            f"{', '.join(['0'] * 12)} FROM experiment_exposures WHERE flag_id = {flag_id} GROUP BY variant")
        conn.exec_driver_sql(
            f"INSERT INTO experiment_variant_stats ({columns}) SELECT {flag_id}, '@h' || (exposed_at / 3600000), "
            f"variant, count(*), {', '.join(['0'] * 13)} FROM experiment_exposures "
            f"WHERE flag_id = {flag_id} AND exposed_at IS NOT NULL AND excluded = {false} "
            "GROUP BY exposed_at / 3600000, variant")
        conn.exec_driver_sql(
            f"INSERT INTO experiment_variant_stats ({columns}) SELECT {flag_id}, aggregate_key, variant, "
            "sum(CASE WHEN count > 0 THEN 1 ELSE 0 END), 0, sum(count), sum(count * count), sum(total), "
            "sum(total * total), sum(CASE WHEN pre_count > 0 THEN 1 ELSE 0 END), sum(pre_count), "
            "sum(pre_count * pre_count), sum(pre_total), sum(pre_total * pre_total), "
            "sum(CASE WHEN count > 0 AND pre_count > 0 THEN 1 ELSE 0 END), sum(count * pre_count), "
            "sum(total * pre_total) FROM bench_counted GROUP BY aggregate_key, variant")
        # Their history: the exposed and excluded users in the hour of their exposure; under a
        # key, a user's pre-exposure part in that hour too, the rest in the hour of their first
        # purchase (the two parts add up to sums.add_user's).
        conn.exec_driver_sql(
            f"INSERT INTO experiment_variant_history ({columns}, hour) SELECT {flag_id}, '', variant, "
            f"sum(CASE WHEN excluded = {false} THEN 1 ELSE 0 END), sum(CASE WHEN excluded = {true} THEN 1 ELSE 0 END), "
            f"{', '.join(['0'] * 12)}, exposed_at / 3600000 FROM experiment_exposures "
            f"WHERE flag_id = {flag_id} GROUP BY variant, exposed_at / 3600000")
        conn.exec_driver_sql(
            f"INSERT INTO experiment_variant_history ({columns}, hour) SELECT {flag_id}, aggregate_key, variant, "
            f"{', '.join(f'sum({name})' for name in SUMS)}, hour FROM ("
            "SELECT aggregate_key, variant, exposed_at / 3600000 AS hour, 0 AS users, 0 AS excluded, "
            "0 AS count_sum, 0 AS count_squares, 0.0 AS total_sum, 0.0 AS total_squares, 1 AS pre_users, "
            "pre_count AS pre_count_sum, pre_count * pre_count AS pre_count_squares, pre_total AS pre_total_sum, "
            "pre_total * pre_total AS pre_total_squares, 0 AS cross_users, 0 AS cross_count, 0.0 AS cross_total "
            "FROM bench_counted WHERE pre_count > 0 "
            "UNION ALL SELECT aggregate_key, variant, first_at / 3600000, 1, 0, count, count * count, total, "
            "total * total, 0, 0, 0, 0.0, 0.0, CASE WHEN pre_count > 0 THEN 1 ELSE 0 END, count * pre_count, "
            "total * pre_total FROM bench_counted WHERE count > 0) AS parts GROUP BY aggregate_key, variant, hour")
        found = raw_conn.exec_driver_sql(
            "SELECT sum(count), sum(pre_count), sum(CASE WHEN pre_count > 0 THEN 1 ELSE 0 END) FROM bench_totals "
            "WHERE aggregate_key = 'purchase'").one()
        if dialect == "postgresql":
            conn.exec_driver_sql(
                "UPDATE experiment_exposures x SET totals = s.totals FROM (SELECT user_key, "
                "json_object_agg(aggregate_key, CASE WHEN pre_count > 0 "
                "THEN json_build_array(count, total, first_at, pre_count, pre_total) "
                "ELSE json_build_array(count, total, first_at) END)::text AS totals "
                "FROM bench_totals GROUP BY user_key) s "
                f"WHERE x.flag_id = {flag_id} AND x.user_key = s.user_key")
            conn.exec_driver_sql("ANALYZE experiment_exposures")
            conn.exec_driver_sql("ANALYZE experiment_variant_history")
        else:
            conn.exec_driver_sql(
                "UPDATE experiment_exposures SET totals = (SELECT json_group_object(t.aggregate_key, "
                "CASE WHEN t.pre_count > 0 THEN json_array(t.count, t.total, t.first_at, t.pre_count, t.pre_total) "
                "ELSE json_array(t.count, t.total, t.first_at) END) FROM bench_totals t "
                "WHERE t.user_key = experiment_exposures.user_key) "
                f"WHERE flag_id = {flag_id} AND user_key IN (SELECT user_key FROM bench_totals)")
            conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("DROP TABLE bench_counted")
        conn.exec_driver_sql("DROP TABLE bench_totals")
        history = _check_history(raw_conn, flag_id)
    engine.dispose()
    return {"events": int(found[0]), "pre_events": int(found[1]), "pre_users": int(found[2]),
            "seconds": time.perf_counter() - started, **history}


def _check_history(conn: sa.Connection, flag_id: int) -> dict[str, int]:
    """The history's rows add up to the sums, key by key and variant by variant."""
    added = ", ".join(f"sum({name})" for name in SUMS)
    stats = {(r[0], r[1]): r[2:] for r in conn.exec_driver_sql(
        f"SELECT aggregate_key, variant, {', '.join(SUMS)} FROM experiment_variant_stats "
        f"WHERE flag_id = {flag_id} AND aggregate_key NOT LIKE '@h%%'")}
    history = {(r[0], r[1]): r[2:] for r in conn.exec_driver_sql(
        f"SELECT aggregate_key, variant, {added} FROM experiment_variant_history "
        f"WHERE flag_id = {flag_id} GROUP BY aggregate_key, variant")}
    assert stats.keys() == history.keys(), (sorted(stats), sorted(history))
    for pair, sums in stats.items():
        for name, kept, summed in zip(SUMS, sums, history[pair], strict=True):
            assert abs(float(kept) - float(summed)) <= 1e-9 * max(1.0, abs(float(kept))), (pair, name, kept, summed)
    rows, hours = conn.exec_driver_sql(
        "SELECT count(*), count(DISTINCT hour) FROM experiment_variant_history "
        f"WHERE flag_id = {flag_id}").one()
    return {"history_rows": int(rows), "hours": int(hours)}


def request(api: httpx.Client, path: str, params: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = api.get(path, params=params)
    took = time.perf_counter() - started
    response.raise_for_status()
    return took, response.json()


def _detail(body: dict[str, Any]) -> str:
    """What the last (count) request answered: the users, CUPED's share removed, the points."""
    if "series" in body:
        return f"{len(body['series'])} points"
    treatment = next(v for v in body["variants"] if v["key"] == "treatment")
    if treatment["varianceReduction"]:
        return f"variance removed {treatment['varianceReduction']:.0%}"
    return f"{sum(v['exposures'] for v in body['variants']):,} users"


def timed(api: httpx.Client, path: str, params: dict[str, str]) -> tuple[float, dict[str, object]]:
    api.get(path, params=params).raise_for_status()  # warm-up
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = api.get(path, params=params)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return statistics.median(times), response.json()


METRICS = (("conversion", {"metric": "purchase"}),
           ("mean revenue", {"metric": "purchase", "property": "revenue"}),
           ("count", {"metric": "purchase", "kind": "count"}))
# (name, analysis settings, extra query parameters); the first is the yardstick of the ratios.
CONFIGURATIONS: tuple[tuple[str, dict[str, Any], dict[str, str]], ...] = (
    ("t-test", {"testType": "ttest", "cuped": False}, {}),
    ("sequential", {"testType": "sequential", "cuped": False}, {}),
    ("sequential + CUPED", {"testType": "sequential", "cuped": True}, {}),
    ("same, interval=day", {"testType": "sequential", "cuped": True}, {"interval": "day"}),
)


def run(database_url: str, label: str, users: int) -> None:
    with running_server(database_url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
        project = server.create_project("latency")
        deployment = server.create_deployment(project, "latency")
        key = server.create_key("latency")
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as api:
            created = api.post("/api/1/experiments", json={
                "projectId": project, "key": "latency-exp", "deployments": [deployment["id"]]})
            created.raise_for_status()
            flag_id = int(created.json()["id"])
            made = generate(database_url, flag_id, int(project), users)
            print(f"{label}: generated {users:,} exposed users, totals of {made['events']:,} events and of "
                  f"{made['pre_events']:,} events before exposure ({made['pre_users']:,} users), "
                  f"{made['history_rows']:,} history rows over {made['hours']} hours, in {made['seconds']:.1f} s")
            base = f"/api/1/experiments/{flag_id}"
            # Rounds over every configuration in turn (the first a warm-up), so that a drift of
            # the machine's speed moves them all alike.
            times: dict[tuple[str, str], list[float]] = {}
            bodies: dict[str, dict[str, Any]] = {}
            for round_ in range(REPEAT + 1):
                for name, settings, extra in CONFIGURATIONS:
                    api.put(f"{base}/analysis", json=settings).raise_for_status()
                    for metric, params in METRICS:
                        took, bodies[name] = request(api, f"{base}/results", {**params, **extra})
                        if round_:
                            times.setdefault((name, metric), []).append(took)
            yardstick = CONFIGURATIONS[0][0]
            for name, _, _ in CONFIGURATIONS:
                figures = []
                for metric, _ in METRICS:
                    median = statistics.median(times[(name, metric)])
                    ratio = median / statistics.median(times[(yardstick, metric)])
                    figures.append(f"{metric} {median * 1000:5.0f} ms ({ratio:3.1f}×)")
                print(f"  results, {name:19s}: {', '.join(figures)}  [count: {_detail(bodies[name])}]")
            median, _ = timed(api, f"{base}/exposures", {"interval": "day"})
            print(f"  exposures over time (day): median {median * 1000:5.0f} ms")
            print(f"  (medians of {REPEAT} requests after a warm-up round; × is the ratio to the t-test's median)")
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (a fresh database is made)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = create_postgres_database(args.postgres, "flagyard_bench") if args.postgres else f"sqlite:///{tmp}/latency.db"
        try:
            run(url, "postgresql" if args.postgres else "sqlite", args.users)
        finally:
            if args.postgres:
                drop_postgres_database(args.postgres, url)


if __name__ == "__main__":
    main()

"""Latency of `GET /api/1/experiments/{id}/results` with 1,000,000 exposed users and the totals
of 10,000,000 events, on SQLite or PostgreSQL.

Sending ten million events through ingestion would take this machine most of an hour, so the
per-user rows that ingestion maintains (`experiment_exposures`, each with the user's totals)
are generated in bulk directly in the database, in the shape ingestion writes them
(and so are the per-variant sums ingestion keeps in step with them, `experiment_variant_stats`):
one exposure row per user (half control, half treatment, 0.2 % excluded) and, for the 60 % of
users who bought, one `purchase` total and one `purchase.revenue` total whose counts add up to
about 10,000,000 events. The results endpoint reads only the per-variant sums, never the raw events or per-user rows.
The server is the real one (`flagyard serve`), queried over HTTP; each figure is the median of
several requests after one warm-up.

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


def series(dialect: str, users: int) -> str:
    if dialect == "postgresql":
        return f"SELECT n FROM generate_series(0::bigint, {users - 1}) AS g(n)"
    return f"WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < {users - 1}) SELECT n FROM c"


class _Percent:
    """psycopg reads `%` as a placeholder: double it there (the SQL below uses `%` as modulo)."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._double = conn.dialect.name == "postgresql"

    def exec_driver_sql(self, sql: str) -> sa.CursorResult:  # type: ignore[type-arg]
        return self._conn.exec_driver_sql(sql.replace("%", "%%") if self._double else sql)


def generate(database_url: str, flag_id: int, project_id: int, users: int) -> tuple[int, float]:
    engine = sa.create_engine(database_url)
    started = time.perf_counter()
    with engine.begin() as raw_conn:
        conn = _Percent(raw_conn)
        dialect = raw_conn.dialect.name
        false, true = ("false", "true") if dialect == "postgresql" else ("0", "1")
        nums = series(dialect, users)
        conn.exec_driver_sql(
            "INSERT INTO experiment_exposures (flag_id, user_key, project_id, variant, exposed_at, excluded) "
            f"SELECT {flag_id}, 'user-' || n, {project_id}, CASE WHEN n % 2 = 0 THEN 'control' ELSE 'treatment' END, "
            f"1790000000000 + n * 60, CASE WHEN n % 500 = 0 THEN {true} ELSE {false} END FROM ({nums}) AS s")
        # 60 % of users bought; counts 1..33 (mean 17), so about 10 events per exposed user.
        # Built as rows in a scratch table first, then folded into each user's totals object.
        conn.exec_driver_sql("CREATE TEMPORARY TABLE bench_totals (flag_id INTEGER, aggregate_key TEXT, "
                             "user_key TEXT, count BIGINT, total FLOAT, first_at BIGINT)")
        for key, total in (("purchase", "0"), ("purchase\x1frevenue", "((n * 7919) % 33 + 1) * (5 + n % 40)")):
            conn.exec_driver_sql(
                "INSERT INTO bench_totals (flag_id, aggregate_key, user_key, count, total, first_at) "
                f"SELECT {flag_id}, %(key)s, 'user-' || n, (n * 7919) % 33 + 1, {total}, 1790000000000 + n * 60 "
                f"FROM ({nums}) AS s WHERE n % 10 < 6".replace("%(key)s", "'" + key + "'"))
        # The per-variant sums ingestion keeps in step, computed here in one pass each.
        counted = f"x.flag_id = {flag_id} AND x.exposed_at IS NOT NULL AND x.excluded = {false}"
        conn.exec_driver_sql(
            "INSERT INTO experiment_variant_stats (flag_id, aggregate_key, variant, users, excluded, count_sum, "
            f"count_squares, total_sum, total_squares) SELECT {flag_id}, '', variant, "
            f"sum(CASE WHEN excluded = {false} THEN 1 ELSE 0 END), sum(CASE WHEN excluded = {true} THEN 1 ELSE 0 END), "
            f"0, 0, 0, 0 FROM experiment_exposures WHERE flag_id = {flag_id} GROUP BY variant")
        conn.exec_driver_sql(
            "INSERT INTO experiment_variant_stats (flag_id, aggregate_key, variant, users, excluded, count_sum, "
            f"count_squares, total_sum, total_squares) SELECT {flag_id}, '@h' || (x.exposed_at / 3600000), x.variant, "
            f"count(*), 0, 0, 0, 0, 0 FROM experiment_exposures x WHERE {counted} "
            "GROUP BY x.exposed_at / 3600000, x.variant")
        conn.exec_driver_sql(
            "INSERT INTO experiment_variant_stats (flag_id, aggregate_key, variant, users, excluded, count_sum, "
            "count_squares, total_sum, total_squares) SELECT t.flag_id, t.aggregate_key, x.variant, count(*), 0, "
            "sum(t.count), sum(t.count * t.count), sum(t.total), sum(t.total * t.total) "
            "FROM bench_totals t JOIN experiment_exposures x "
            f"ON x.flag_id = t.flag_id AND x.user_key = t.user_key WHERE {counted} "
            "GROUP BY t.flag_id, t.aggregate_key, x.variant")
        events = conn.exec_driver_sql(
            "SELECT sum(count) FROM bench_totals WHERE aggregate_key = 'purchase'").scalar_one()
        if dialect == "postgresql":
            conn.exec_driver_sql(
                "UPDATE experiment_exposures x SET totals = s.totals FROM (SELECT flag_id, user_key, "
                "json_object_agg(aggregate_key, json_build_array(count, total, first_at))::text AS totals "
                "FROM bench_totals GROUP BY flag_id, user_key) s "
                "WHERE x.flag_id = s.flag_id AND x.user_key = s.user_key")
            conn.exec_driver_sql("ANALYZE experiment_exposures")
        else:
            conn.exec_driver_sql("CREATE INDEX bench_totals_user ON bench_totals (flag_id, user_key)")
            conn.exec_driver_sql(
                "UPDATE experiment_exposures SET totals = (SELECT json_group_object(t.aggregate_key, "
                "json_array(t.count, t.total, t.first_at)) FROM bench_totals t WHERE t.flag_id = "
                "experiment_exposures.flag_id AND t.user_key = experiment_exposures.user_key) "
                f"WHERE flag_id = {flag_id} AND user_key IN (SELECT user_key FROM bench_totals)")
            conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("DROP TABLE bench_totals")
    engine.dispose()
    return int(events), time.perf_counter() - started


def timed(api: httpx.Client, path: str, params: dict[str, str]) -> tuple[float, dict[str, object]]:
    api.get(path, params=params).raise_for_status()  # warm-up
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = api.get(path, params=params)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return statistics.median(times), response.json()


def run(database_url: str, label: str, users: int) -> None:
    with running_server(database_url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
        project = server.create_project("latency")
        deployment = server.create_deployment(project, "latency")
        key = server.create_key("latency")
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as api:
            created = api.post("/api/1/experiments", json={
                "projectId": project, "key": "latency-exp", "deployments": [deployment["id"]]})
            created.raise_for_status()
            flag_id = int(created.json()["id"])
            events, took = generate(database_url, flag_id, int(project), users)
            print(f"{label}: generated {users:,} exposed users and totals of {events:,} events in {took:.1f} s")
            base = f"/api/1/experiments/{flag_id}"
            for name, params in (("conversion", {"metric": "purchase"}),
                                 ("mean revenue", {"metric": "purchase", "property": "revenue"}),
                                 ("count", {"metric": "purchase", "kind": "count"})):
                median, body = timed(api, f"{base}/results", params)
                exposures = sum(v["exposures"] for v in body["variants"])  # type: ignore[union-attr]
                print(f"  results ({name:12s}): median {median * 1000:7.0f} ms over {REPEAT} requests "
                      f"({exposures:,} counted users, {body['excludedUsers']:,} excluded)")
            median, _ = timed(api, f"{base}/exposures", {"interval": "day"})
            print(f"  exposures over time (day): median {median * 1000:7.0f} ms")
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

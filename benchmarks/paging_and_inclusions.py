"""Two costs that must not grow with size, measured over HTTP against a real server:

1. a page of `GET /api/1/flags?limit=100` at depth 0 and at depth 100,000 (keyset cursor);
2. adding 1,000 users to one variant while its list grows to 100,000, and reading it back.

    .venv/bin/python benchmarks/paging_and_inclusions.py [--flags 100000] [--users 100000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from flagyard.store import tables  # noqa: E402
from flagyard.store.db import make_engine  # noqa: E402
from tests.support.server import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    run_cli,
    running_server,
)


def seed_flags(url: str, project: int, count: int) -> None:
    """Bulk-insert flags straight into the tables: creating them one by one over HTTP would
    measure the create path, not paging."""
    now = datetime.now(UTC)
    row = {
        "project_id": project, "kind": "flag", "name": "", "description": "", "enabled": False,
        "evaluation_mode": "remote", "bucketing_key": "amplitude_id", "bucketing_salt": "abcdefgh",
        "bucketing_unit": "User", "rollout_percentage": 0, "target_segments": [],
        "parent_dependencies": None, "sticky_bucketing": False, "started": False,
        "start_date": None, "end_date": None, "experiment_type": None, "deleted": False,
        "tags": [], "decision": None, "decision_reason": None, "rolled_out_variant": None,
        "exposure_event": None, "delivery_method": "feature", "created_by": "bench",
        "last_modified_by": "bench", "created_at": now, "last_modified_at": now, "version": 1,
    }
    engine = make_engine(url)
    with engine.begin() as conn:
        for start in range(0, count, 10_000):
            conn.execute(sa.insert(tables.flags),
                         [{**row, "key": f"seeded-{i}"} for i in range(start, min(count, start + 10_000))])
    engine.dispose()


def timed(call, repeat: int = 20) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (a fresh database is made)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = create_postgres_database(args.postgres, "flagyard_bench") if args.postgres else f"sqlite:///{tmp}/bench.db"
        try:
            measure(url, args)
        finally:
            if args.postgres:
                drop_postgres_database(args.postgres, url)


def measure(url: str, args: argparse.Namespace) -> None:
    project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
    key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
    seed_flags(url, int(project), args.flags)
    with running_server(url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server, \
            httpx.Client(base_url=server.base_url, timeout=120,
                         headers={"Authorization": f"Bearer {key}"}) as api:
        # 1. paging
        first = api.get("/api/1/flags", params={"limit": 100}).json()
        assert len(first["flags"]) == 100
        shallow = timed(lambda: api.get("/api/1/flags", params={"limit": 100}).raise_for_status())
        deep_cursor = 101  # ids below this: the oldest hundred, after ~100,000 newer ones
        deep = timed(lambda: api.get("/api/1/flags", params={"limit": 100, "cursor": deep_cursor}).raise_for_status())
        print(f"GET /api/1/flags?limit=100 with {args.flags:,} flags (median of 20):")
        print(f"  depth 0:        {shallow:7.1f} ms")
        print(f"  depth {args.flags - 100:,}: {deep:7.1f} ms   ratio deep/shallow {deep / shallow:.2f}")

        # 2. inclusions
        flag_id = api.post("/api/1/flags", json={"projectId": project, "key": "big-list"}).json()["id"]
        batches = []
        for start in range(0, args.users, 1000):
            ids = [f"user-{i}" for i in range(start, start + 1000)]
            started = time.perf_counter()
            api.post(f"/api/1/flags/{flag_id}/variants/on/users", json={"inclusions": ids}).raise_for_status()
            batches.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        users = api.get(f"/api/1/flags/{flag_id}/variants/on/users").json()
        read = (time.perf_counter() - started) * 1000
        assert len(users) == args.users and users[0] == "user-0"
        tenth = max(1, len(batches) // 10)
        print(f"POST …/variants/on/users, 1,000 ids per request, up to {args.users:,} ids:")
        print(f"  first {tenth} batches: median {statistics.median(batches[:tenth]):6.1f} ms")
        print(f"  last {tenth} batches:  median {statistics.median(batches[-tenth:]):6.1f} ms"
              f"   ratio last/first {statistics.median(batches[-tenth:]) / statistics.median(batches[:tenth]):.2f}")
        print(f"GET …/variants/on/users ({len(users):,} ids, {len(json.dumps(users)) // 1024} KiB): {read:.0f} ms")


if __name__ == "__main__":
    main()

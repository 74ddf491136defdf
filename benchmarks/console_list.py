"""The console's flag list at 10,000 flags: a page (50 rows) with each filter, first and deep.

Measured over HTTP against a real server, signed in as a console user; the flags are inserted
straight into the tables (every 10th enabled, every 7th tagged, every 3rd linked).

    .venv/bin/python benchmarks/console_list.py [--flags 10000]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
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
from tests.console.support import signed_in_client  # noqa: E402
from tests.support.server import cli_env, run_cli, running_server  # noqa: E402


def seed(url: str, project: int, deployment: int, count: int) -> None:
    now = datetime.now(UTC)
    row = {
        "project_id": project, "kind": "flag", "description": "", "evaluation_mode": "remote",
        "bucketing_key": "amplitude_id", "bucketing_salt": "abcdefgh", "bucketing_unit": "User",
        "rollout_percentage": 0, "target_segments": [], "parent_dependencies": None,
        "sticky_bucketing": False, "started": False, "start_date": None, "end_date": None,
        "experiment_type": None, "deleted": False, "decision": None, "decision_reason": None,
        "rolled_out_variant": None, "exposure_event": None, "delivery_method": "feature",
        "created_by": "bench", "last_modified_by": "bench", "created_at": now,
        "last_modified_at": now, "version": 1,
    }
    engine = make_engine(url)
    with engine.begin() as conn:
        rows = [{**row, "key": f"seeded-{i}", "name": f"Seeded flag {i}", "enabled": i % 10 == 0,
                 "tags": ["beta"] if i % 7 == 0 else []} for i in range(count)]
        conn.execute(sa.insert(tables.flags), rows)
        ids = [r.id for r in conn.execute(sa.select(tables.flags.c.id).order_by(tables.flags.c.id))]
        conn.execute(sa.insert(tables.flag_deployments),
                     [{"flag_id": i, "deployment_id": deployment, "position": 0} for i in ids[::3]])
    engine.dispose()


def median_ms(client: httpx.Client, path: str, repeat: int = 15) -> tuple[float, int]:
    samples, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path)
        samples.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text[:300]
        rows = len(re.findall(r'<td><a href="/console/flags/', answer.text))
    return statistics.median(samples) * 1000, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flags", type=int, default=10_000)
    count = parser.parse_args().flags
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        run_cli(url, "db", "upgrade")
        project = int(run_cli(url, "projects", "create", "--name", "bench").stdout)
        run_cli(url, "deployments", "create", "--project", str(project), "--label", "prod")
        subprocess.run([sys.executable, "-m", "flagyard", "users", "create", "--email", "b@example.com",
                        "--role", "viewer", "--password-stdin"], input="bench password\n",
                       env=cli_env(url), check=True, capture_output=True, text=True)
        seed(url, project, 1, count)
        with running_server(url) as server:
            client, _ = signed_in_client(server.base_url, "b@example.com", "bench password")
            base = f"/console/p/{project}/flags"
            deep_cursor = count // 2
            cases = [
                ("first page, no filter", base),
                (f"page below id {deep_cursor}", f"{base}?cursor={deep_cursor}"),
                ("search 'flag 99' (key or name)", f"{base}?q=flag+99"),
                ("enabled only", f"{base}?enabled=on"),
                ("tag beta", f"{base}?tag=beta"),
                ("deployment 1", f"{base}?deployment=1"),
                ("all filters", f"{base}?q=seeded&enabled=on&tag=beta&deployment=1"),
                ("search with no match (scans all)", f"{base}?q=nothing-matches"),
            ]
            print(f"console flag list, {count:,} flags, SQLite, median of 15 requests")
            for label, path in cases:
                ms, rows = median_ms(client, path)
                print(f"  {label:36s} {ms:7.1f} ms  ({rows} rows)")
            client.close()


if __name__ == "__main__":
    main()

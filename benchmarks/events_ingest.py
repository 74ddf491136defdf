"""Events per second through `POST /2/httpapi` (or `/batch`), sent by the real Amplitude SDK.

Starts one `flagyard serve` process (one worker) on a fresh SQLite file, or on a fresh database
of the PostgreSQL server named by `--postgres URL`, with one running experiment. Sender
processes each run `amplitude-analytics` (`Amplitude(api_key, Config(server_url=...))`) and
track a mix of events: one `[Experiment] Exposure` per user, then product events with a numeric
property, so the per-user totals are maintained as they would be in production. A sender
keeps at most one buffer of events in flight (the SDK drops events beyond 20,000 queued).

The figure is events acknowledged by the server (the SDK's callback with code 200) divided by
the wall time from the first `track` to the last acknowledgement. Afterwards the script checks
that the database holds every event exactly once.

    .venv/bin/python benchmarks/events_ingest.py [--events 200000] [--senders 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import sys
import tempfile
import threading
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

CHUNK = 10_000  # events tracked before waiting for their acknowledgements


def sender(url: str, api_key: str, number: int, events: int, flush_size: int,
           start: Any, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from amplitude import Amplitude, BaseEvent, Config

    acked = 0
    failed: list[str] = []
    lock = threading.Condition()

    def callback(event: Any, code: int, message: str | None) -> None:
        nonlocal acked
        with lock:
            if code == 200:
                acked += 1
            else:
                failed.append(f"{code} {message}")
            lock.notify_all()

    client = Amplitude(api_key, Config(server_url=url, flush_queue_size=flush_size,
                                       flush_interval_millis=10_000, callback=callback))
    start.wait()
    begun = time.perf_counter()
    sent = 0
    users = max(1, events // 10)
    while sent < events:
        for _ in range(min(CHUNK, events - sent)):
            user = f"user-{number}-{sent % users:07d}"
            if sent < users:
                client.track(BaseEvent("[Experiment] Exposure", user_id=user, event_properties={
                    "[Experiment] Flag Key": "bench-exp",
                    "[Experiment] Variant": "control" if sent % 2 else "treatment"}))
            else:
                client.track(BaseEvent("purchase", user_id=user,
                                       event_properties={"revenue": sent % 97, "sku": f"s{sent % 13}"}))
            sent += 1
        client.flush()
        with lock:
            while acked + len(failed) < sent:
                lock.wait(timeout=60)
    elapsed = time.perf_counter() - begun
    client.shutdown()
    out.put((acked, failed[:5], begun, begun + elapsed))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(database_url: str, label: str, events: int, senders: int, flush_size: int, path: str) -> None:
    with running_server(database_url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
        project = server.create_project("bench")
        deployment = server.create_deployment(project, "bench")
        key = server.create_key("bench")
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
            created = api.post("/api/1/experiments", json={
                "projectId": project, "key": "bench-exp", "deployments": [deployment["id"]]})
            created.raise_for_status()
        ctx = multiprocessing.get_context("spawn")
        start = ctx.Event()
        out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
        per_sender = events // senders
        procs = [ctx.Process(target=sender, args=(server.base_url + path, deployment["key"], n,
                                                  per_sender, flush_size, start, out))
                 for n in range(senders)]
        for proc in procs:
            proc.start()
        time.sleep(2)  # let the senders import the SDK
        cpu_before = cpu_seconds(server.process.pid)
        start.set()
        results = [out.get(timeout=600) for _ in procs]
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
        for proc in procs:
            proc.join()
        acked = sum(r[0] for r in results)
        failures = [f for r in results for f in r[1]]
        wall = max(r[3] for r in results) - min(r[2] for r in results)
        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT count(*), count(DISTINCT dedup_key) FROM events").one()
            exposed = conn.exec_driver_sql("SELECT count(*) FROM experiment_exposures").scalar_one()
        engine.dispose()
    print(f"{label:10s} {path:10s} senders={senders} flush_queue_size={flush_size}: "
          f"{acked:,} events acknowledged in {wall:.2f} s = {acked / wall:,.0f} events/s "
          f"(stored {stored[0]:,}, distinct insert_ids {stored[1]:,}, exposed users {exposed:,})")
    print(f"{'':10s} server process CPU: {server_cpu:.2f} s = {acked / server_cpu:,.0f} events per CPU-second "
          f"(load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if failures:
        print("  failures:", failures)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--flush-size", type=int, default=1000)
    parser.add_argument("--path", default="/2/httpapi", choices=["/2/httpapi", "/batch"])
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (a fresh database is made)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = create_postgres_database(args.postgres, "flagyard_bench") if args.postgres else f"sqlite:///{tmp}/bench.db"
        try:
            run(url, "postgresql" if args.postgres else "sqlite", args.events, args.senders,
                args.flush_size, args.path)
        finally:
            if args.postgres:
                drop_postgres_database(args.postgres, url)


if __name__ == "__main__":
    main()

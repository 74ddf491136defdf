"""Ingestion scaled out: events per second through one and through two `flagyard serve`
processes on one PostgreSQL database, in turns (1, 2, 1, 2, ...), each run on a fresh database.

The uploads are made once and replayed to every run (each upload once, by `--connections`
keep-alive clients spread evenly over the processes, pulling from one shared list so a faster
process takes more). Two shapes of traffic:

- `--shape server`: what `benchmarks/events_ingest.py --replay` sends: the real
  `amplitude-analytics` SDK's uploads (1,000 events of 1,000 different users each, user ids only),
  recorded by the same code. Many users per upload, as a backend sending for all its users.
- `--shape client`: one device's events per upload (`--client-events`, default 20: its exposure
  then purchases; user and device id), as browser and mobile SDKs send.

Printed per run: events acknowledged per second; CPU seconds of each server process, of the
PostgreSQL backends serving the benchmark's database, of every PostgreSQL process (the server is
shared, so this includes other work), of this script (the replay clients), and the whole
machine's busy CPU as a share of its cores over the run; how often a writer waited on a lock
(`pg_stat_activity`, sampled every 50 ms). Then the median of each and their ratio. Every run
checks that each event is stored once.

    .venv/bin/python benchmarks/ingest_scale_out.py --postgres URL [--shape server|client]
        [--events 200000] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.events_ingest import count_stored, cpu_seconds, record, replay, setup_experiment  # noqa: E402
from tests.support.server import (  # noqa: E402
    Server,
    create_postgres_database,
    drop_postgres_database,
    running_server,
)

Upload = tuple[bytes, str]
KEY_MARK = b"@@API_KEY@@"  # replaced by each run's deployment key


def server_uploads(events: int, flush_size: int) -> list[Upload]:
    """The SDK's own uploads of the events_ingest mix (two recording processes)."""
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=record, args=(KEY_MARK.decode(), n, events // 2, flush_size, out)) for n in range(2)]
    for proc in procs:
        proc.start()
    found = [upload for _ in procs for upload in out.get(timeout=1200)]
    for proc in procs:
        proc.join()
    return found


def client_uploads(events: int, per_upload: int) -> list[Upload]:
    """One device per upload: its exposure, then purchases; the users' uploads interleaved."""
    now = int(time.time() * 1000)
    found: list[Upload] = []
    for user in range(events // per_upload):
        name = f"user-{user:07d}"
        batch = [{"event_type": "[Experiment] Exposure", "user_id": name, "device_id": f"device-{user:07d}",
                  "insert_id": str(uuid.uuid4()), "time": now - 60_000,
                  "event_properties": {"[Experiment] Flag Key": "bench-exp",
                                       "[Experiment] Variant": "control" if user % 2 else "treatment"}}]
        batch += [{"event_type": "purchase", "user_id": name, "device_id": f"device-{user:07d}",
                   "insert_id": str(uuid.uuid4()), "time": now - 60_000 + n,
                   "event_properties": {"revenue": (user + n) % 97, "sku": f"s{n % 13}"}}
                  for n in range(1, per_upload)]
        found.append((orjson.dumps({"api_key": KEY_MARK.decode(), "events": batch}), "application/json"))
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (a server with workers forks them)."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                total += cpu_seconds(int(stat.parent.name))
    return total


def postgres_pids() -> list[int]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "postgres":
                found.append(int(comm.parent.name))
    return found


def cpu_of(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            found[pid] = cpu_seconds(pid)
    return found


def wal_and_commits(url: str) -> tuple[int, int]:
    """The server's WAL position (bytes), and the commits of this database so far."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return tuple(conn.exec_driver_sql(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, xact_commit FROM pg_stat_database "
                "WHERE datname = current_database()").one())
    finally:
        engine.dispose()


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (every core)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class LockWaits:
    """Samples the benchmark database's backends: how often one waited on a lock while working."""

    def __init__(self, url: str) -> None:
        self._engine = sa.create_engine(url, pool_size=1)
        self._database = sa.make_url(url).database
        self._stop = threading.Event()
        self.samples = 0
        self.waiting = 0  # samples in which some backend waited on a lock
        self.active = 0  # samples in which some backend ran a statement
        self.pids: set[int] = set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self._engine.connect() as conn:
            mine = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            while not self._stop.wait(0.05):
                rows = conn.exec_driver_sql(
                    "SELECT pid, state, wait_event_type FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                    (self._database, mine)).all()
                conn.rollback()
                self.pids.update(r[0] for r in rows)
                self.samples += 1
                self.waiting += any(r[2] == "Lock" for r in rows)
                self.active += any(r[1] == "active" for r in rows)

    def __enter__(self) -> LockWaits:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._engine.dispose()


@dataclass
class Run:
    processes: int
    rate: float
    wall: float
    server_cpu: list[float]
    backends_cpu: float
    postgres_cpu: float
    client_cpu: float
    machine_busy: float  # share of all cores over the run
    lock_waits: float  # share of samples with a backend waiting on a lock
    load: float
    wal_bytes: int  # WAL written by the whole server over the run (other work included)
    commits: int  # transactions committed in the benchmark's database


@contextlib.contextmanager
def servers_on(url: str, processes: int) -> Iterator[list[Server]]:
    env = {"FLAGYARD_RATE_LIMIT_PER_SECOND": "0", "FLAGYARD_INGEST_EVENTS_PER_SECOND": "0"}
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_server(url, env=env)) for _ in range(processes)]


def one_run(admin_url: str, processes: int, uploads: list[Upload], path: str, connections: int) -> Run:
    url = create_postgres_database(admin_url, "flagyard_bench")
    try:
        with servers_on(url, processes) as servers:
            key = setup_experiment(servers[0])["key"].encode()
            mine = [(body.replace(KEY_MARK, key), content_type) for body, content_type in uploads]
            sent = sum(body.count(b'"insert_id"') for body, _ in mine)
            with LockWaits(url) as waits:
                time.sleep(0.2)  # the sampler's first look: the servers' pooled connections
                wal_before, commits_before = wal_and_commits(url)
                pg_before = cpu_of(postgres_pids())
                server_before = [tree_cpu(s.process.pid) for s in servers]
                client_before, busy_before = cpu_seconds(os.getpid()), machine_busy()
                acked, wall, faults = replay([s.base_url for s in servers], path, mine, connections)
                busy = machine_busy() - busy_before
                client_cpu = cpu_seconds(os.getpid()) - client_before
                server_cpu = [tree_cpu(s.process.pid) - b for s, b in zip(servers, server_before, strict=True)]
                pg_after = cpu_of(postgres_pids())
                time.sleep(1)  # PostgreSQL publishes a backend's counts within a second
                wal_after, commits_after = wal_and_commits(url)
                wal, commits = wal_after - wal_before, commits_after - commits_before
            stored, distinct, _ = count_stored(url)
    finally:
        drop_postgres_database(admin_url, url)
    if faults or acked != sent or stored != sent or distinct != sent:
        raise SystemExit(f"run with {processes} processes: sent {sent:,}, acknowledged {acked:,}, stored {stored:,} "
                         f"({distinct:,} distinct); faults {faults[:3]}")
    deltas = {pid: cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items()}
    cores = os.cpu_count() or 1
    return Run(processes, acked / wall, wall, server_cpu,
               sum(d for pid, d in deltas.items() if pid in waits.pids), sum(deltas.values()),
               client_cpu, busy / (wall * cores), waits.waiting / max(waits.samples, 1), os.getloadavg()[0], wal, commits)


def show(run: Run) -> None:
    print(f"{run.processes} process{'es' if run.processes > 1 else '  '}: {run.rate:9,.0f} events/s in {run.wall:5.2f} s | "
          f"CPU s: server {' + '.join(f'{c:.2f}' for c in run.server_cpu)}, postgres backends {run.backends_cpu:.2f} "
          f"(all postgres {run.postgres_cpu:.2f}), replay clients {run.client_cpu:.2f} | machine busy "
          f"{run.machine_busy:.0%} of {os.cpu_count()} cores | a writer waiting on a lock in {run.lock_waits:.0%} "
          f"of samples | WAL {run.wal_bytes / (run.rate * run.wall):,.0f} bytes per event | "
          f"{run.commits:,} commits ({run.rate * run.wall / max(run.commits, 1):,.0f} events each) | load {run.load:.1f}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", required=True, help="admin URL of a PostgreSQL server (fresh databases are made)")
    parser.add_argument("--shape", choices=["server", "client"], default="server")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--flush-size", type=int, default=1000, help="server shape: the SDK's flush_queue_size")
    parser.add_argument("--client-events", type=int, default=20, help="client shape: events per upload")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of runs (1 process, then 2)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--path", default="/2/httpapi", choices=["/2/httpapi", "/batch"])
    args = parser.parse_args()

    uploads = (server_uploads(args.events, args.flush_size) if args.shape == "server"
               else client_uploads(args.events, args.client_events))
    print(f"shape {args.shape}: {len(uploads):,} uploads of {args.events // len(uploads):,} events, "
          f"{args.connections} connections, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    one_run(args.postgres, 1, uploads[: len(uploads) // 10], args.path, args.connections)  # warm-up, not counted
    runs: list[Run] = []
    for _ in range(args.rounds):
        for processes in (1, 2):
            runs.append(one_run(args.postgres, processes, uploads, args.path, args.connections))
            show(runs[-1])
    ones = [r for r in runs if r.processes == 1]
    twos = [r for r in runs if r.processes == 2]
    pairs = [b.rate / a.rate for a, b in zip(ones, twos, strict=True)]
    print(f"median events/s: 1 process {statistics.median(r.rate for r in ones):,.0f}, "
          f"2 processes {statistics.median(r.rate for r in twos):,.0f}; ratio pair by pair "
          f"{' · '.join(f'{p:.2f}' for p in pairs)} (median {statistics.median(pairs):.2f})")
    for label, group in (("1 process", ones), ("2 processes", twos)):
        def per_event(cpu: float, run: Run) -> float:
            return cpu / (run.rate * run.wall) * 1e6
        print(f"{label}: CPU µs per event: servers {statistics.median(per_event(sum(r.server_cpu), r) for r in group):.1f}, "
              f"postgres backends {statistics.median(per_event(r.backends_cpu, r) for r in group):.1f}, "
              f"replay clients {statistics.median(per_event(r.client_cpu, r) for r in group):.1f}; "
              f"machine busy {statistics.median(r.machine_busy for r in group):.0%}")


if __name__ == "__main__":
    main()

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

On this 2-core machine the Python SDK itself is the bottleneck of that figure (it spends a few
hundred microseconds of CPU per event, printed as "sender CPU"). `--replay` measures the
server instead: the same SDK first sends its uploads to a recording endpoint in this script
(the exact bytes and headers it puts on the wire), then those uploads are replayed to flagyard
by `--connections` concurrent keep-alive clients, each upload once, and every answer is checked.

    .venv/bin/python benchmarks/events_ingest.py [--events 200000] [--senders 3] [--postgres URL]
    .venv/bin/python benchmarks/events_ingest.py --replay [--events 300000] [--connections 4]

`--processes 1,2` (with `--replay`) scales out: for each count N, a fresh database and N `flagyard
serve` processes on it, each on its own port, the replay's connections spread over them (the
same total), so N processes take the same uploads one process takes. The counts run in turns
(`--rounds R` times: 1 2 1 2 ...), and the script prints each run, the medians and the ratio of
every N to one process, pair by pair. Each run also prints where the CPU went: the server
processes', PostgreSQL's (its backends for the database) and the wall time, and on PostgreSQL
how long the event writers waited for one another's locks.

    .venv/bin/python benchmarks/events_ingest.py --replay --processes 1,2 --rounds 3 --postgres URL
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
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


def mix_event(number: int, n: int, users: int, random_users: bool = False) -> Any:
    """The n-th event of sender `number`: each user's exposure first, then purchases, user after
    user (every upload carries a run of consecutive users), or with `random_users` each purchase
    by a user drawn at random (as a server batching many users' events sends them)."""
    from amplitude import BaseEvent

    user = f"user-{number}-{(n if n < users or not random_users else random.Random(n).randrange(users)) % users:07d}"
    if n < users:
        return BaseEvent("[Experiment] Exposure", user_id=user, event_properties={
            "[Experiment] Flag Key": "bench-exp", "[Experiment] Variant": "control" if n % 2 else "treatment"})
    return BaseEvent("purchase", user_id=user, event_properties={"revenue": n % 97, "sku": f"s{n % 13}"})


def sender(url: str, api_key: str, number: int, events: int, flush_size: int,
           start: Any, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from amplitude import Amplitude, Config

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
            client.track(mix_event(number, sent, users))
            sent += 1
        client.flush()
        with lock:
            while acked + len(failed) < sent:
                lock.wait(timeout=60)
    elapsed = time.perf_counter() - begun
    client.shutdown()
    out.put((acked, failed[:5], begun, begun + elapsed, cpu_seconds(os.getpid())))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup_experiment(server: Any) -> dict[str, Any]:
    """A project, a deployment and a running experiment `bench-exp`; the deployment."""
    project = server.create_project("bench")
    deployment: dict[str, Any] = server.create_deployment(project, "bench")
    key = server.create_key("bench")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
        created = api.post("/api/1/experiments", json={
            "projectId": project, "key": "bench-exp", "deployments": [deployment["id"]]})
        created.raise_for_status()
    return deployment


def count_stored(database_url: str) -> tuple[int, int, int]:
    """(events stored, distinct insert ids, exposed users)."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        stored, distinct = conn.exec_driver_sql("SELECT count(*), count(DISTINCT dedup_key) FROM events").one()
        exposed = conn.exec_driver_sql("SELECT count(*) FROM experiment_exposures").scalar_one()
    engine.dispose()
    return int(stored), int(distinct), int(exposed)


def run(database_url: str, label: str, events: int, senders: int, flush_size: int, path: str) -> None:
    with running_server(database_url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
        deployment = setup_experiment(server)
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
        *stored, exposed = count_stored(database_url)
    print(f"{label:10s} {path:10s} senders={senders} flush_queue_size={flush_size}: "
          f"{acked:,} events acknowledged in {wall:.2f} s = {acked / wall:,.0f} events/s "
          f"(stored {stored[0]:,}, distinct insert_ids {stored[1]:,}, exposed users {exposed:,})")
    print(f"{'':10s} server process CPU: {server_cpu:.2f} s = {acked / server_cpu:,.0f} events per CPU-second "
          f"(load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    sender_cpu = sum(r[4] for r in results)
    print(f"{'':10s} sender processes CPU (the SDK): {sender_cpu:.2f} s = "
          f"{sender_cpu / max(acked, 1) * 1e6:,.0f} µs per event")
    if failures:
        print("  failures:", failures)


# --- replay: the SDK's own uploads, sent at the server's pace ------------------------------------

def record(api_key: str, number: int, events: int, flush_size: int, out: Any, random_users: bool = False) -> None:
    """Run the SDK against a local endpoint that keeps each upload's bytes; put them on `out`."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from amplitude import Amplitude, Config

    uploads: list[tuple[bytes, str]] = []
    lock = threading.Lock()

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                uploads.append((body, self.headers["Content-Type"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"code": 200}')

        def log_message(self, *args: Any) -> None:
            pass

    endpoint = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    acked = threading.Semaphore(0)
    client = Amplitude(api_key, Config(
        server_url=f"http://127.0.0.1:{endpoint.server_address[1]}/", flush_queue_size=flush_size,
        flush_interval_millis=10_000, callback=lambda event, code, message: acked.release()))
    users = max(1, events // 10)
    for n in range(events):
        client.track(mix_event(number, n, users, random_users))
        if n % CHUNK == CHUNK - 1:
            client.flush()
    client.flush()
    for _ in range(events):
        acked.acquire(timeout=120)
    client.shutdown()
    endpoint.shutdown()
    out.put(uploads)


def replay(base_urls: list[str], path: str, uploads: list[tuple[bytes, str]],
           connections: int) -> tuple[int, float, list[str]]:
    """Send every upload once over `connections` keep-alive clients, spread over the servers in
    turn; (events acknowledged, seconds, faults)."""
    import asyncio

    async def run() -> tuple[int, float, list[str]]:
        pending = list(reversed(uploads))
        acked = 0
        faults: list[str] = []

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal acked
            while pending:
                body, content_type = pending.pop()
                answer = await client.post(path, content=body, headers={"Content-Type": content_type})
                if answer.status_code == 200:
                    acked += answer.json()["events_ingested"]
                else:
                    faults.append(f"{answer.status_code} {answer.text[:200]}")

        clients = [httpx.AsyncClient(base_url=url, timeout=120) for url in base_urls]
        try:
            begun = time.perf_counter()
            await asyncio.gather(*(worker(clients[n % len(clients)]) for n in range(connections)))
            return acked, time.perf_counter() - begun, faults
        finally:
            for client in clients:
                await client.aclose()

    return asyncio.run(run())


def run_replay(database_url: str, label: str, events: int, recorders: int, flush_size: int, path: str,
               connections: int, profile: str | None = None) -> None:
    with running_server(database_url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
        deployment = setup_experiment(server)
        ctx = multiprocessing.get_context("spawn")
        out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
        procs = [ctx.Process(target=record, args=(deployment["key"], n, events // recorders, flush_size, out))
                 for n in range(recorders)]
        for proc in procs:
            proc.start()
        uploads = [upload for _ in procs for upload in out.get(timeout=1200)]
        for proc in procs:
            proc.join()
        sent = sum(body.count(b'"insert_id"') for body, _ in uploads)
        profiler = None
        if profile:  # py-spy (pip install py-spy) samples the server while it works
            profiler = subprocess.Popen(["py-spy", "record", "--pid", str(server.process.pid), "--format",
                                         "raw", "--output", profile, "--threads", *os.environ.get("PYSPY_EXTRA", "--nonblocking").split()])
            time.sleep(1)
        cpu_before = cpu_seconds(server.process.pid)
        acked, wall, faults = replay([server.base_url], path, uploads, connections)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait()
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
        stored = count_stored(database_url)
    print(f"{label:10s} {path:10s} replay of {len(uploads)} SDK uploads ({sent:,} events, flush_queue_size="
          f"{flush_size}) over {connections} connections: {acked:,} events acknowledged in {wall:.2f} s = "
          f"{acked / wall:,.0f} events/s (stored {stored[0]:,}, distinct insert_ids {stored[1]:,}, "
          f"exposed users {stored[2]:,})")
    print(f"{'':10s} server process CPU: {server_cpu:.2f} s = {acked / server_cpu:,.0f} events per CPU-second "
          f"(load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if faults:
        print("  faults:", faults[:5])


# --- scaling out: N server processes on one database, the same uploads ---------------------------

PLACEHOLDER_KEY = "replay-key-placeholder-7f3c9a"  # replaced by each run's deployment key


def record_uploads(events: int, recorders: int, flush_size: int, random_users: bool) -> list[tuple[bytes, str]]:
    """The SDK's uploads of `events` events from `recorders` processes, with a placeholder key."""
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=record, args=(PLACEHOLDER_KEY, n, events // recorders, flush_size, out, random_users))
             for n in range(recorders)]
    for proc in procs:
        proc.start()
    uploads = [upload for _ in procs for upload in out.get(timeout=1200)]
    for proc in procs:
        proc.join()
    return uploads


@contextmanager
def servers(database_url: str, count: int) -> Iterator[list[Any]]:
    """`count` server processes on one database, each on a port of its own (the first one
    prepares the schema before the others start)."""
    with ExitStack() as stack:
        yield [stack.enter_context(running_server(database_url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}))
               for _ in range(count)]


# How a writer's PostgreSQL backend spends its time, from `pg_stat_activity`'s state and wait event.
STATES = ("Python (idle in transaction)", "Python (COPY waits for rows)", "database CPU", "project lock wait",
          "user lock wait", "sums rows lock wait", "other lock wait", "WAL flush", "other database wait",
          "no work (idle)")
LOCKED_BY = {"pg_advisory": 3, "event_user_locks": 4, "experiment_variant": 5}  # what the waiting statement names


def state_of(state: str | None, wait_type: str | None, wait: str | None, query: str) -> str:
    if state == "idle":
        return STATES[9]
    if state == "idle in transaction":
        return STATES[0]
    if wait_type == "Client":
        return STATES[1]
    if wait_type is None:
        return STATES[2]
    if wait_type == "Lock":
        return STATES[next((n for name, n in LOCKED_BY.items() if name in query), 6)]
    if (wait or "").startswith("WAL"):
        return STATES[7]
    return STATES[8]


class WriterSampler:
    """Samples `pg_stat_activity` of one database every few milliseconds; at the end, tells for the
    event writers' backends (those seen running the event writer's statements) the share of
    samples in each of `STATES`, and the CPU time of all of the database's backends."""

    def __init__(self, database_url: str, interval: float = 0.01) -> None:
        self._engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
        self._name = sa.make_url(database_url).database
        self._interval = interval
        self._samples: dict[int, list[str]] = {}
        self._writers: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._cpu_before: dict[int, float] = {}

    def __enter__(self) -> WriterSampler:
        self._cpu_before = {pid: cpu_seconds(pid) for pid in self._backends()}
        self._wal_before = self._wal()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.database_cpu = sum(cpu_seconds(pid) - self._cpu_before.get(pid, 0.0) for pid in self._backends())
        # The whole server's WAL, this run's and anything else's meanwhile (other databases).
        self.wal_bytes = self._wal() - self._wal_before
        with self._engine.connect() as conn:
            self.sizes = {table: int(conn.exec_driver_sql("SELECT pg_total_relation_size(%s)", (table,)).scalar_one())
                          for table in ("events", "experiment_exposures", "event_user_locks")
                          if conn.exec_driver_sql("SELECT to_regclass(%s)", (table,)).scalar_one() is not None}
        self._engine.dispose()

    def _wal(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").scalar_one())

    def _backends(self) -> list[int]:
        with self._engine.connect() as conn:
            return [pid for (pid,) in conn.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self._name,))]

    def _run(self) -> None:
        with self._engine.connect() as conn:
            while not self._stop.wait(self._interval):
                for pid, state, wait_type, wait, query in conn.exec_driver_sql(
                        "SELECT pid, state, wait_event_type, wait_event, query FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()", (self._name,)):
                    if query.startswith("COPY events") or "pg_advisory" in query or "event_user_locks" in query:
                        self._writers.add(pid)
                    self._samples.setdefault(pid, []).append(state_of(state, wait_type, wait, query))

    def shares(self) -> dict[str, float]:
        found = [s for pid in self._writers for s in self._samples.get(pid, [])]
        return {name: found.count(name) / len(found) for name in STATES} if found else {}


@dataclass
class ScaledRun:
    processes: int
    acked: int
    wall: float
    server_cpu: float
    database_cpu: float | None
    shares: dict[str, float]
    stored: tuple[int, int, int]
    faults: list[str]
    wal_bytes: int | None = None
    sizes: dict[str, int] | None = None

    @property
    def rate(self) -> float:
        return self.acked / self.wall


def scaled_run(admin_url: str | None, tmp: str, processes: int, uploads: list[tuple[bytes, str]], path: str,
               connections: int) -> ScaledRun:
    url = (create_postgres_database(admin_url, "flagyard_bench") if admin_url
           else f"sqlite:///{tmp}/bench-{processes}-{time.monotonic_ns()}.db")
    try:
        with servers(url, processes) as running:
            key = setup_experiment(running[0])["key"].encode()
            bodies = [(body.replace(PLACEHOLDER_KEY.encode(), key), kind) for body, kind in uploads]
            pids = [server.process.pid for server in running]
            sampler = WriterSampler(url) if admin_url else None
            cpu_before = sum(cpu_seconds(pid) for pid in pids)
            with sampler or nullcontext():
                acked, wall, faults = replay([server.base_url for server in running], path, bodies, connections)
            server_cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        stored = count_stored(url)
    finally:
        if admin_url:
            drop_postgres_database(admin_url, url)
    return ScaledRun(processes, acked, wall, server_cpu, sampler.database_cpu if sampler else None,
                     sampler.shares() if sampler else {}, stored, faults,
                     sampler.wal_bytes if sampler else None, sampler.sizes if sampler else None)


def print_run(label: str, run: ScaledRun, sent: int) -> None:
    check = "ok" if run.stored[0] == run.stored[1] == sent else "MISMATCH"
    print(f"{label:10s} {run.processes} process(es): {run.acked:,} events acknowledged in {run.wall:.2f} s = "
          f"{run.rate:,.0f} events/s; stored {run.stored[0]:,}, distinct insert ids {run.stored[1]:,} ({check}), "
          f"exposed users {run.stored[2]:,}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    database = f", database backends {run.database_cpu:.2f} s" if run.database_cpu is not None else ""
    print(f"{'':10s}   CPU: server processes {run.server_cpu:.2f} s ({run.server_cpu / run.wall:.2f} cores)"
          f"{database} ({(run.database_cpu or 0) / run.wall:.2f} cores)")
    if run.wal_bytes is not None and run.sizes is not None:
        print(f"{'':10s}   per event: {run.wal_bytes / run.acked:,.0f} bytes of WAL (the server's), stored "
              + ", ".join(f"{table} {size / run.acked:,.0f} bytes" for table, size in run.sizes.items()))
    if run.shares:
        print(f"{'':10s}   event writers' backends: " + ", ".join(
            f"{name} {share:.0%}" for name, share in run.shares.items() if share >= 0.005))
    if run.faults:
        print("  faults:", run.faults[:5])


def run_scaled(admin_url: str | None, label: str, counts: list[int], rounds: int, events: int, recorders: int,
               flush_size: int, path: str, connections: int, random_users: bool) -> None:
    uploads = record_uploads(events, recorders, flush_size, random_users)
    sent = sum(body.count(b'"insert_id"') for body, _ in uploads)
    print(f"{label}: {len(uploads)} SDK uploads, {sent:,} events ({'purchases by random users' if random_users else 'user after user'}), "
          f"replayed over {connections} connections spread over the processes; {rounds} round(s) of {counts}")
    runs: dict[int, list[ScaledRun]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for n in counts:
                run = scaled_run(admin_url, tmp, n, uploads, path, connections)
                print_run(label, run, sent)
                runs[n].append(run)
    base = counts[0]
    for n in counts:
        rates = [r.rate for r in runs[n]]
        line = f"{label:10s} {n} process(es): median {statistics.median(rates):,.0f} events/s " \
               f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})"
        if n != base:
            ratios = [r.rate / b.rate for r, b in zip(runs[n], runs[base], strict=True)]
            line += (f"; ratio to {base}: median {statistics.median(ratios):.2f}× "
                     f"(pair by pair: {', '.join(f'{x:.2f}' for x in ratios)})")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--flush-size", type=int, default=1000)
    parser.add_argument("--path", default="/2/httpapi", choices=["/2/httpapi", "/batch"])
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (a fresh database is made)")
    parser.add_argument("--replay", action="store_true", help="record the SDK's uploads, then replay them")
    parser.add_argument("--connections", type=int, default=4, help="concurrent clients of the replay")
    parser.add_argument("--profile", help="with --replay: write py-spy's samples of the server to this file")
    parser.add_argument("--processes", help="with --replay: server process counts to compare, e.g. 1,2")
    parser.add_argument("--rounds", type=int, default=1, help="with --processes: times to run each count, in turns")
    parser.add_argument("--random-users", action="store_true",
                        help="with --processes: each purchase by a user drawn at random, not user after user")
    args = parser.parse_args()
    if args.processes:
        run_scaled(args.postgres, "postgresql" if args.postgres else "sqlite",
                   [int(n) for n in args.processes.split(",")], args.rounds, args.events, args.senders,
                   args.flush_size, args.path, args.connections, args.random_users)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = create_postgres_database(args.postgres, "flagyard_bench") if args.postgres else f"sqlite:///{tmp}/bench.db"
        try:
            label = "postgresql" if args.postgres else "sqlite"
            if args.replay:
                run_replay(url, label, args.events, args.senders, args.flush_size, args.path, args.connections,
                           args.profile)
            else:
                run(url, label, args.events, args.senders, args.flush_size, args.path)
        finally:
            if args.postgres:
                drop_postgres_database(args.postgres, url)


if __name__ == "__main__":
    main()

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
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import signal
import subprocess
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


def mix_event(number: int, n: int, users: int) -> Any:
    """The n-th event of sender `number`: each user's exposure first, then purchases."""
    from amplitude import BaseEvent

    user = f"user-{number}-{n % users:07d}"
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

def record(api_key: str, number: int, events: int, flush_size: int, out: Any) -> None:
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
        client.track(mix_event(number, n, users))
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
    """Send every upload once over `connections` keep-alive clients spread over the servers;
    (events acknowledged, seconds, faults)."""
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

        clients = [httpx.AsyncClient(base_url=base_url, timeout=120) for base_url in base_urls]
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
    args = parser.parse_args()
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

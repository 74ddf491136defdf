"""10,000 SSE streams on one server process: time until every one has a change, memory per
stream, and what keep-alives cost.

Starts one `flagyard serve` process (one worker, SQLite) with 10 local-evaluation flags in a
deployment and keep-alives every --keepalive seconds. Client processes open the streams
(--streams in all) and read every event. Then:
  * memory: the server's resident set before and after the streams opened, per stream;
  * keep-alive cost: the server's CPU time over --idle seconds with every stream idle, per
    keep-alive sent, and as a share of one core at Amplitude's 15 s interval;
  * fan-out: one PATCH; for each stream, the time from sending the write until the stream had
    the new flags. Target: every stream within 1 s.

    .venv/bin/python benchmarks/stream_fanout.py [--streams 10000] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import selectors
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.server import run_cli, running_server  # noqa: E402


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int, kernel_only: bool = False) -> float:
    """User plus system CPU time of a process (system time only if asked)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return (system if kernel_only else user + system) / os.sysconf("SC_CLK_TCK")


KEEPALIVE_CHUNK = len(b"9\r\ndata:  \n\n\r\n")


def client(base_url: str, key: str, count: int, body_size: int, ready: multiprocessing.Queue,  # type: ignore[type-arg]
           go: multiprocessing.Event, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Open `count` streams on raw sockets and watch them with one selector.

    A thin client on purpose: the clients share the machine's two cores with the server, so
    each event costs them one recv and no parsing. A stream "has the change" once more than
    half a flag body has arrived on it after the write (keep-alives are 14 bytes).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    parts = urlsplit(base_url)
    request = (f"GET /sdk/stream/v1/flags HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               f"Authorization: Api-Key {key}\r\n\r\n").encode()
    selector = selectors.DefaultSelector()
    sockets = []
    for index in range(count):
        sock = socket.create_connection((parts.hostname, parts.port))
        sock.sendall(request)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, index)
        sockets.append(sock)
    received = [0] * count
    buffer = bytearray(1 << 16)  # reused: a fresh 1 MiB bytes per recv cost more than the server's write

    def pump(timeout: float) -> list[int]:
        grew = []
        for selected, _ in selector.select(timeout):
            index = selected.data
            try:
                size = selected.fileobj.recv_into(buffer)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            if not size:
                raise RuntimeError("the server closed a stream")
            received[index] += size
            grew.append(index)
        return grew

    waiting = set(range(count))
    while waiting:  # the headers and the first flag array on every stream
        for index in pump(1.0):
            if received[index] >= body_size:
                waiting.discard(index)
    ready.put(count)
    while not go.is_set():
        pump(0.05)
    before = list(received)
    ready.put(0)  # counting from here: the write is sent only once every client says so
    arrivals: list[float] = [0.0] * count
    waiting = set(range(count))
    while waiting:
        for index in pump(1.0):
            if index in waiting and received[index] - before[index] > body_size // 2:
                arrivals[index] = time.time()
                waiting.discard(index)
    keepalives = sum(before) - count * body_size  # bytes beyond the first event, roughly
    results.put((arrivals, max(0, keepalives) // KEEPALIVE_CHUNK))
    for sock in sockets:
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4, help="client processes opening the streams")
    parser.add_argument("--keepalive", type=float, default=1.0, help="server keep-alive interval, s")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds to measure keep-alive cost")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/fanout.db"
        project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
        deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                        "--label", "bench").stdout)
        key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
        env = {"FLAGYARD_RATE_LIMIT_PER_SECOND": "0",
               "FLAGYARD_STREAM_KEEPALIVE_SECONDS": str(args.keepalive)}
        with running_server(url, env=env) as server, httpx.Client(
                base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:
            pid = server.process.pid
            ids = []
            for i in range(10):
                ids.append(api.post("/api/1/flags", json={
                    "projectId": project, "key": f"fanout-{i}", "evaluationMode": "local",
                    "deployments": [deployment["id"]], "rolloutPercentage": 50,
                    "variants": [{"key": "control"}, {"key": "treatment", "payload": {"n": i}}]}).json()["id"])
                api.patch(f"/api/1/flags/{ids[-1]}", json={"enabled": True}).raise_for_status()
            sdk_headers = {"Authorization": f"Api-Key {deployment['key']}"}
            body = httpx.get(f"{server.base_url}/sdk/v2/flags", headers=sdk_headers).content
            time.sleep(1)
            rss_before = rss_bytes(pid)
            # What the idle process costs without streams (the SQLite watcher, the timer).
            cpu_start, wall_start = cpu_seconds(pid), time.monotonic()
            time.sleep(args.idle)
            baseline_cpu_per_s = (cpu_seconds(pid) - cpu_start) / (time.monotonic() - wall_start)

            ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
            results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
            go = multiprocessing.Event()
            share = [args.streams // args.clients + (1 if i < args.streams % args.clients else 0)
                     for i in range(args.clients)]
            procs = [multiprocessing.Process(target=client, args=(server.base_url, deployment["key"], n,
                                                                  len(body), ready, go, results))
                     for n in share]
            opening = time.monotonic()
            for proc in procs:
                proc.start()
            opened = sum(ready.get(timeout=600) for _ in procs)
            open_seconds = time.monotonic() - opening
            time.sleep(1)
            rss_after = rss_bytes(pid)

            cpu_start, wall_start = cpu_seconds(pid), time.monotonic()
            time.sleep(args.idle)
            idle_wall = time.monotonic() - wall_start
            idle_cpu = cpu_seconds(pid) - cpu_start - baseline_cpu_per_s * idle_wall

            go.set()
            for _ in procs:
                ready.get(timeout=60)
            fanout_cpu, fanout_kernel = cpu_seconds(pid), cpu_seconds(pid, kernel_only=True)
            sent = time.time()
            api.patch(f"/api/1/flags/{ids[0]}", json={"rolloutPercentage": 70}).raise_for_status()
            acknowledged = time.time()
            arrivals: list[float] = []
            keepalives = 0
            for _ in procs:
                got, seen = results.get(timeout=600)
                arrivals += got
                keepalives += seen
            # Every stream has it: the server is done.
            fanout_cpu = cpu_seconds(pid) - fanout_cpu
            fanout_kernel = cpu_seconds(pid, kernel_only=True) - fanout_kernel
            for proc in procs:
                proc.join()

    delays = sorted((a - sent) * 1000 for a in arrivals)
    keepalive_rounds = idle_wall / args.keepalive
    per_keepalive_us = idle_cpu / max(1, keepalive_rounds * opened) * 1e6
    print(f"{opened} SSE streams on one server process (1 worker, SQLite), {len(body)}-byte flag body; "
          f"machine shared with other work")
    print(f"  opening them took {open_seconds:.1f} s from {args.clients} client processes")
    print(f"  server RSS {rss_before / 2**20:.0f} MiB before, {rss_after / 2**20:.0f} MiB with the streams: "
          f"{(rss_after - rss_before) / opened / 1024:.1f} KiB per stream")
    print(f"  idle with keep-alives every {args.keepalive:g} s for {idle_wall:.1f} s: server CPU "
          f"{idle_cpu:.2f} s above the idle process's = {per_keepalive_us:.1f} µs per keep-alive sent "
          f"(about {keepalives} keep-alives reached the clients)")
    print(f"  at Amplitude's 15 s interval that is {per_keepalive_us * opened / 15 / 1e4:.2f} % of one core "
          f"for {opened} streams")
    print(f"  one change: the write answered in {(acknowledged - sent) * 1000:.0f} ms; streams had the new "
          f"flags after p50 {statistics.median(delays):.0f} ms, p99 {delays[int(len(delays) * 0.99) - 1]:.0f} ms, "
          f"all {len(delays)} by {delays[-1]:.0f} ms (target: all within 1000 ms)")
    print(f"  server CPU for the write and the fan-out: {fanout_cpu * 1000:.0f} ms "
          f"= {fanout_cpu / opened * 1e6:.0f} µs per stream, {fanout_kernel / max(fanout_cpu, 1e-9):.0%} of it "
          "in the kernel (writing to the sockets)")


if __name__ == "__main__":
    main()

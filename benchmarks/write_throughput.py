"""Writes per second at 1,000 / 3,000 / 10,000 flags, with and without SDKs holding the deployment.

For each size: a fresh database (SQLite file, or a new database on the PostgreSQL server named by
`--postgres URL`) with N enabled flags in one deployment, one `flagyard serve` process, then

1. "no SDK": `--clients` writer threads, each with its own keep-alive connection, send
   `PATCH /api/1/flags/{id}` (a rollout percentage, a random flag) for `--seconds`;
2. "SDKs connected": the same, while a streaming SDK holds `/sdk/stream/v1/flags` open (every
   change pushes the deployment's flag array to it) and a polling SDK fetches `/sdk/v2/flags`
   every `--poll` seconds, as the local-evaluation SDKs do.

It prints writes/s and the write's p50/p99, and for phase 2 how many stream messages arrived, how
long after a write the next one came (p50/p99: propagation to a connected SDK), and the poll's
p99; then the ratio of phase 2 to phase 1 (1.0: connected SDKs cost writes nothing). Each phase
also prints the server's CPU per write, which bounds one process's writes/s and stays comparable
when other work shares the machine.

    .venv/bin/python benchmarks/write_throughput.py [--sizes 1000,3000,10000] [--seconds 8] [--postgres URL]
        [--profile PREFIX]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from flagyard.clock import utc_now  # noqa: E402
from flagyard.manage.model.creation import new_flag  # noqa: E402
from flagyard.manage.model.flags import Kind  # noqa: E402
from flagyard.store.db import make_engine  # noqa: E402
from flagyard.store.manage.unit_of_work import unit_of_work_factory  # noqa: E402
from tests.support.server import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    run_cli,
    running_server,
)


def load_flags(url: str, project: int, deployment: int, count: int) -> list[int]:
    """N enabled flags with two variants, a payload and a segment, in one transaction."""
    engine = make_engine(url)
    now = utc_now()
    ids = []
    with unit_of_work_factory(engine)(write=True) as uow:
        for i in range(count):
            flag = new_flag(Kind.FLAG, project, {
                "key": f"write-{i}", "deployments": [deployment], "bucketing_key": "device_id",
                "rollout_percentage": 50, "evaluation_mode": "local",
                "variants": [{"key": "control"}, {"key": "treatment", "payload": {"n": i}}],
                "target_segments": [{"name": "pros", "conditions": [
                    {"type": "property", "prop": "gp:plan", "op": "is", "values": ["pro"]}],
                    "percentage": 100, "rolloutWeights": {"treatment": 1}}],
            }, actor="bench", now=now)
            flag.enabled = flag.started = True
            flag.version = 1
            ids.append(uow.flags.add(flag))
        uow.commit()
    engine.dispose()
    return ids


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def write_load(port: int, key: str, ids: list[int], clients: int, seconds: float,
               acked: list[float]) -> tuple[int, list[float]]:
    """(writes done, latencies) of `clients` threads PATCHing for `seconds`."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        while time.perf_counter() < deadline:
            body = json.dumps({"rolloutPercentage": rng.randrange(101)})
            started = time.perf_counter()
            connection.request("PATCH", f"/api/1/flags/{rng.choice(ids)}", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            done = time.perf_counter()
            assert response.status == 200, response.status
            with lock:
                latencies.append(done - started)
                acked.append(done)
        connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), latencies


class Stream(threading.Thread):
    """A streaming SDK: reads the SSE connection and notes when each message ends."""

    def __init__(self, port: int, sdk_key: str) -> None:
        super().__init__(daemon=True)
        self.arrivals: list[float] = []
        self.stopped = False
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self._connection.request("GET", "/sdk/stream/v1/flags", headers={"Authorization": f"Api-Key {sdk_key}"})
        self._response = self._connection.getresponse()
        assert self._response.status == 200, self._response.status

    def run(self) -> None:
        while not self.stopped:
            line = self._response.readline()
            if not line:
                return
            if line in (b"\n", b"\r\n"):
                self.arrivals.append(time.perf_counter())


class Poller(threading.Thread):
    def __init__(self, port: int, sdk_key: str, every: float) -> None:
        super().__init__(daemon=True)
        self.times: list[float] = []
        self.stopped = False
        self._port, self._key, self._every = port, sdk_key, every

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=60)
        while not self.stopped:
            started = time.perf_counter()
            connection.request("GET", "/sdk/v2/flags", headers={"Authorization": f"Api-Key {self._key}"})
            response = connection.getresponse()
            response.read()
            self.times.append(time.perf_counter() - started)
            time.sleep(max(0.0, self._every - (time.perf_counter() - started)))


def propagation(acked: list[float], arrivals: list[float]) -> list[float]:
    """For each acknowledged write, how long until the next stream message arrived."""
    found, j = [], 0
    arrivals = sorted(arrivals)
    for at in sorted(acked):
        while j < len(arrivals) and arrivals[j] < at:
            j += 1
        if j == len(arrivals):
            break
        found.append(arrivals[j] - at)
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """How busy the server and this benchmark (the writers and SDKs) kept the cores meanwhile."""

    def __init__(self, server_pid: int) -> None:
        self._pid = server_pid
        self._start = (time.perf_counter(), cpu_seconds(server_pid), time.process_time())

    def server_seconds(self) -> float:
        return cpu_seconds(self._pid) - self._start[1]

    def per_write(self, writes: int) -> str:
        """The server's CPU per write: what one process's writes/s is bound by, and less noisy
        than writes/s when other work shares the cores."""
        return f"server CPU {self.server_seconds() * 1000 / max(writes, 1):5.2f} ms/write"

    def __str__(self) -> str:
        wall = time.perf_counter() - self._start[0]
        server = self.server_seconds() / wall
        clients = (time.process_time() - self._start[2]) / wall
        return f"CPU: server {server:4.0%} of a core, writers and SDKs {clients:4.0%}"


def profile(pid: int, path: str, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy sampling the server's GIL holders while the SDKs are connected."""
    py_spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(py_spy), "record", "--gil", "-f", "raw", "-o", path, "--pid", str(pid),
                             "--duration", str(max(1, int(seconds)))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def one_size(url: str, count: int, args: argparse.Namespace) -> tuple[float, float]:
    run_cli(url, "db", "upgrade")
    project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                    "--label", "production").stdout)
    key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
    ids = load_flags(url, int(project), int(deployment["id"]), count)
    env = {"FLAGYARD_RATE_LIMIT_PER_SECOND": "0", "FLAGYARD_ACCESS_LOG": "false"}
    with running_server(url, env=env) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        warm.request("GET", "/sdk/v2/flags", headers={"Authorization": f"Api-Key {deployment['key']}"})
        warm.getresponse().read()

        share = CpuShare(server.process.pid)
        done, latencies = write_load(port, key, ids, args.clients, args.seconds, [])
        alone = done / args.seconds
        print(f"{count:>6} flags  no SDK          {alone:7.1f} writes/s   p50 {ms(statistics.median(latencies))}"
              f"   p99 {ms(percentile(latencies, 0.99))}   {share}, {share.per_write(done)}")

        stream, poller = Stream(port, deployment["key"]), Poller(port, deployment["key"], args.poll)
        stream.start()
        poller.start()
        time.sleep(1.0)
        acked: list[float] = []
        profiler = profile(server.process.pid, f"{args.profile}-{count}.txt", args.seconds) \
            if args.profile else None
        share = CpuShare(server.process.pid)
        done, latencies = write_load(port, key, ids, args.clients, args.seconds, acked)
        if profiler is not None:
            profiler.wait()
        shares = f"{share}, {share.per_write(done)}"
        time.sleep(1.0)
        stream.stopped = poller.stopped = True
        connected = done / args.seconds
        spread = propagation(acked, stream.arrivals)
        print(f"{count:>6} flags  SDKs connected  {connected:7.1f} writes/s   p50 {ms(statistics.median(latencies))}"
              f"   p99 {ms(percentile(latencies, 0.99))}   stream: {len(stream.arrivals)} messages, next one after"
              f" a write p50 {ms(statistics.median(spread) if spread else float('nan'))}"
              f" p99 {ms(percentile(spread, 0.99))}   poll p99 {ms(percentile(poller.times, 0.99))}   {shares}")
        print(f"{count:>6} flags  connected / alone = {connected / alone:.2f}")
    return alone, connected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--poll", type=float, default=1.0, help="the polling SDK's interval, seconds")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (default: SQLite files)")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="record the server with py-spy --gil while SDKs are connected, "
                             "to PREFIX-<flags>.txt (raw, for flamegraph.pl)")
    args = parser.parse_args()
    results = {}
    for count in (int(n) for n in args.sizes.split(",")):
        if args.postgres:
            url = create_postgres_database(args.postgres, "flagyard_writes")
            try:
                results[count] = one_size(url, count, args)
            finally:
                drop_postgres_database(args.postgres, url)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                results[count] = one_size(f"sqlite:///{tmp}/writes.db", count, args)
    smallest, largest = min(results), max(results)
    print(f"with SDKs connected, writes/s at {largest} flags / at {smallest} flags = "
          f"{results[largest][1] / results[smallest][1]:.2f} (1.0: a write's cost does not grow with the flags)")


if __name__ == "__main__":
    main()

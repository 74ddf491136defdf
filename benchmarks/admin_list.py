"""The admin list, GET /api/1/flags?limit=1000, on SQLite and on PostgreSQL beside Unleash 7.5.1's
GET /api/admin/projects/default/features on PostgreSQL.

Starts `flagyard serve` (one worker) on a SQLite file and on a fresh database of a running
PostgreSQL server, and Unleash 7.5.1 (installed once into --unleash-dir) on another fresh
database there. For each size in --sizes, loads the same flags into each (unleash_side_by_side.py's
flags: two variants, a payload, a two-condition rule, a 50 % rollout) up to that many, then runs
wrk against each in turns: flagyard on SQLite, Unleash, flagyard on PostgreSQL, Unleash, and
again for every round. Prints each one's median req/s, p50 and p99, the server's CPU time per
request (user + system, read from /proc: on a machine others load too, the steadiest figure),
and each flagyard against Unleash's median.

    .venv/bin/python benchmarks/admin_list.py [--sizes 50,1000] [--seconds 6] [--rounds 3]
        [--databases sqlite,postgresql]
        [--postgres-url postgresql://postgres:postgres@127.0.0.1:5432/postgres]
    .venv/bin/python benchmarks/admin_list.py --sizes 50 --unleash-rps 272 --unleash-p99 253
        # no Unleash: compare with figures measured before (one size)

Needs wrk (`apt-get install -y wrk`); with Unleash, Node 20 and npm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Result, row, run_wrk  # noqa: E402
from unleash_side_by_side import (  # noqa: E402
    ADMIN_TOKEN,
    flagyard_server,
    fresh_database,
    install_unleash,
    load_unleash,
    unleash_server,
)
from vardata_throughput import make_flags  # noqa: E402

UNLEASH_LIST = "/api/admin/projects/default/features"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    label: str
    url: str
    headers: dict[str, str]
    pid: int | None
    runs: list[tuple[Result, float]]  # each run's figures and CPU ms per request

    def measure(self, seconds: int, connections: int) -> None:
        before = _cpu_seconds(self.pid)
        result = run_wrk(self.url, seconds=seconds, connections=connections, headers=self.headers)
        used = _cpu_seconds(self.pid) - before
        self.runs.append((result, 1000 * used / max(result.rps * seconds, 1)))

    def median(self) -> tuple[Result, float]:
        results = [r for r, _ in self.runs]
        return (Result(statistics.median(r.rps for r in results),
                       statistics.median(r.p50_ms for r in results),
                       statistics.median(r.p99_ms for r in results),
                       sum(r.errors for r in results)),
                statistics.median(cpu for _, cpu in self.runs))


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _listening_pid(base: str) -> int | None:
    """The process listening on the URL's port (Unleash's Node process)."""
    port = base.rsplit(":", 1)[1]
    out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    found = out.split("pid=", 1)
    return int(found[1].split(",", 1)[0]) if len(found) == 2 else None


@dataclass
class Server:
    """A server with flags loaded into it and the list measured on it."""

    target: Target
    load: Callable[[int, int], None]  # (first, count): add flags bench-{first}...
    count: Callable[[httpx.Response], int]  # how many flags a list answer holds
    limit: int  # the most one answer shows
    loaded: int = 0

    def load_to(self, size: int) -> None:
        self.load(self.loaded, size - self.loaded)
        self.loaded = size
        listed = httpx.get(self.target.url, headers=self.target.headers, timeout=60)
        assert listed.status_code == 200 and self.count(listed) == min(size, self.limit), listed.text[:300]
        print(f"  {self.target.label}: {size} flags, body {len(listed.content):,} bytes", flush=True)


@contextmanager
def flagyard_running(label: str, url: str) -> Iterator[Server]:
    with flagyard_server(label, url) as fy:
        target = Target(f"flagyard on {label}", f"{fy.base}/api/1/flags?limit=1000",
                        {"Authorization": f"Bearer {fy.admin_key}"}, _listening_pid(fy.base), [])
        yield Server(
            target,
            lambda first, count: make_flags(fy.base, fy.admin_key, fy.project, fy.deployment_id, first, count),
            lambda answer: len(answer.json()["flags"]), 1000)


@contextmanager
def unleash_running(directory: Path, database_url: str) -> Iterator[Server]:
    with unleash_server(directory, database_url) as base:
        target = Target("Unleash 7.5.1 on PostgreSQL", f"{base}{UNLEASH_LIST}",
                        {"Authorization": ADMIN_TOKEN}, _listening_pid(base), [])
        yield Server(
            target, lambda first, count: load_unleash(base, first, count),
            lambda answer: len(answer.json()["features"]), sys.maxsize)


def verdict(ours: Result, theirs_rps: float, theirs_p99: float) -> str:
    met = ours.rps >= 2 * theirs_rps and ours.p99_ms < theirs_p99
    return (f"ratio {ours.rps / theirs_rps:.2f}x req/s, p99 {ours.p99_ms:.1f} vs {theirs_p99:.1f} ms "
            f"(target >= 2x with a lower p99: {'met' if met else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,1000", help="flags in each server, measured in turn")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="flagyard's databases: sqlite, postgresql or both")
    parser.add_argument("--postgres-url", default="postgresql://postgres:postgres@127.0.0.1:5432/postgres",
                        help="a running PostgreSQL server; fresh databases are made there and dropped")
    parser.add_argument("--unleash-rps", type=float, help="compare with this figure instead of running Unleash")
    parser.add_argument("--unleash-p99", type=float, help="... and this p99 in ms")
    parser.add_argument("--unleash-dir", type=Path,
                        default=Path.home() / ".cache" / "flagyard-bench" / "unleash-7.5.1")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    databases = args.databases.split(",")
    if not databases or not set(databases) <= {"sqlite", "postgresql"}:
        raise SystemExit("--databases takes sqlite, postgresql or both")
    if (args.unleash_rps is None) != (args.unleash_p99 is None):
        raise SystemExit("--unleash-rps and --unleash-p99 go together")
    admin_url = args.postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        ours: list[Server] = []
        for database in databases:
            url = (f"sqlite:///{tmp}/list.db" if database == "sqlite"
                   else stack.enter_context(fresh_database(admin_url, "flagyard_list_bench")))
            label = "SQLite" if database == "sqlite" else "PostgreSQL"
            ours.append(stack.enter_context(flagyard_running(label, url)))
        unleash: Server | None = None
        if args.unleash_rps is None:
            directory = install_unleash(args.unleash_dir)
            unleash_url = stack.enter_context(fresh_database(admin_url, "unleash_list_bench"))
            unleash = stack.enter_context(unleash_running(directory, unleash_url))
        for size in sizes:
            print(f"\nloading {size} flags into each server", flush=True)
            for server in [*ours, *([unleash] if unleash else [])]:
                server.load_to(size)
                server.target.runs.clear()
            measure_in_turns(args, [server.target for server in ours], unleash.target if unleash else None)


def measure_in_turns(args: argparse.Namespace, ours: list[Target], unleash: Target | None) -> None:
    print(f"wrk -c{args.connections} -d{args.seconds}s, {args.rounds} rounds in turns "
          f"({' / '.join(t.label for t in ours)}{', each followed by Unleash' if unleash else ''}); "
          "medians; one flagyard worker, one Node process", flush=True)
    for number in range(1, args.rounds + 1):
        for target in ours:
            target.measure(args.seconds, args.connections)
            if unleash is not None:
                unleash.measure(args.seconds, args.connections)
        print(f"  round {number} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    if unleash is not None:
        theirs, theirs_cpu = unleash.median()
        theirs_rps, theirs_p99 = theirs.rps, theirs.p99_ms
        print(f"{row(unleash.label, theirs)}   CPU {theirs_cpu:.2f} ms/request")
    else:
        theirs_rps, theirs_p99 = args.unleash_rps, args.unleash_p99
        print(f"  Unleash 7.5.1 (given)  {theirs_rps:,.0f} req/s, p99 {theirs_p99:.1f} ms")
    for target in ours:
        result, cpu = target.median()
        print(f"{row(target.label, result)}   CPU {cpu:.2f} ms/request")
        print(f"    {verdict(result, theirs_rps, theirs_p99)}", flush=True)


if __name__ == "__main__":
    main()

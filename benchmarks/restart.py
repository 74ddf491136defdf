"""A restart with many flags: how soon the process is ready, and what its first config costs.

For each database (a fresh SQLite file; PostgreSQL: a fresh database on --postgres-url, or a
throwaway cluster of its own) and each size (default 1,000 / 3,000 / 10,000 enabled flags in
one deployment, each with two variants, a payload, a two-condition segment and a split, half
of them local), `flagyard serve` is started --rounds times, and from the moment it is started
the script times:

  ready           until /ready answers 200 (asked every 25 ms)
  first config    once ready, the first GET /sdk/v2/flags?eval_mode=remote (every flag,
                  gzip, as the SDKs ask), until its last byte
  start → config  the two together: what a client polling a fresh process waits
  steady config   the same request again (what every later request costs)
  cpu at ready    the server's CPU seconds when it said ready (less disturbed by a busy
                  machine than wall time)
  build           the build of every deployment's snapshot before ready, as the server logs
                  it ("built the snapshots of N deployments in X s"); the rest of `ready` is
                  the process's own start (imports, app, schema check)

Medians are printed. With --baseline-src (the `src` directory of another checkout, e.g.
`git archive <commit> src | tar -x -C /tmp/before`) every round starts the baseline's server and
this tree's in turn (A B, then B A), each on a database its own code migrated and filled, and
the ratios baseline / this tree are printed.

    .venv/bin/python benchmarks/restart.py [--sizes 1000,3000,10000] [--rounds 3]
        [--baseline-src /tmp/before/src] [--postgres-url URL] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_flags import flag_fields  # noqa: E402

from tests.support.postgres import postgres_bin, throwaway_cluster  # noqa: E402
from tests.support.server import (  # noqa: E402
    cli_env,
    create_postgres_database,
    drop_postgres_database,
    free_port,
)

THIS = Path(__file__).resolve()
SOURCE = THIS.parents[1] / "src"


# --- the data: loaded by the code under test, in a process of its own ------------------------


def load(url: str, count: int) -> None:
    """Migrate `url` and fill it (run with the tree's src first on PYTHONPATH); prints the key."""
    from flagyard.clock import utc_now
    from flagyard.manage.model.creation import new_flag
    from flagyard.manage.model.deployments import new_deployment
    from flagyard.manage.model.document import flag_document
    from flagyard.manage.model.flags import Kind
    from flagyard.manage.model.projects import new_project
    from flagyard.manage.model.versions import Version
    from flagyard.store import migrate
    from flagyard.store.db import make_engine
    from flagyard.store.manage.unit_of_work import unit_of_work_factory

    engine = make_engine(url)
    migrate.prepare(engine, allow_upgrade=True)
    now = utc_now()
    with unit_of_work_factory(engine)(write=True) as uow:
        project = uow.projects.add(new_project("restart", now))
        deployment = new_deployment(project, "production", "server", now)
        uow.deployments.add(deployment)
        for i in range(count):
            flag = new_flag(Kind.FLAG, project, flag_fields(f"restart-{i}", deployment.id, i),
                            actor="bench", now=now)
            flag.enabled = flag.started = True
            flag.version = 1
            uow.flags.add(flag)
            uow.versions.add(Version(flag_id=flag.id, project_id=project, version=1, created_at=now,
                                     created_by="bench", flag_config=flag_document(flag)))
        uow.projects.bump_revision(project)
        uow.commit()
    engine.dispose()
    print(deployment.key)


def env_for(source: Path, url: str) -> dict[str, str]:
    env = cli_env(url)
    env["PYTHONPATH"] = str(source)
    return env


def filled(source: Path, url: str, count: int) -> str:
    done = subprocess.run([sys.executable, str(THIS), "--load", url, str(count)], env=env_for(source, url),
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"loading {count} flags failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


# --- one start ---------------------------------------------------------------------------------


@dataclass
class Start:
    ready: float
    first: float
    steady: float
    cpu: float
    build: float

    @property
    def to_config(self) -> float:
        return self.ready + self.first


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, len(response.read())
    finally:
        connection.close()


BUILT = re.compile(rb"built the snapshots of \d+ deployments in ([0-9.]+) s")


def start(source: Path, url: str, key: str) -> Start:
    with tempfile.TemporaryFile() as log:
        port = free_port()
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "flagyard", "serve", "--port", str(port)],
                                   env=env_for(source, url), stdout=subprocess.DEVNULL, stderr=log)
        try:
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"the server exited with {process.returncode}: "
                                       f"{log.read()[-2000:].decode(errors='replace')}")
                with contextlib.suppress(OSError):
                    if get(port, "/ready", {})[0] == 200:
                        break
                time.sleep(0.025)
            ready = time.perf_counter() - started
            cpu = cpu_seconds(process.pid)
            headers = {"Authorization": f"Api-Key {key}", "Accept-Encoding": "gzip"}
            times = []
            for _ in range(2):
                began = time.perf_counter()
                status, _ = get(port, "/sdk/v2/flags?v=0&eval_mode=remote", headers)
                times.append(time.perf_counter() - began)
                assert status == 200, status
            log.seek(0)
            built = BUILT.search(log.read())
            return Start(ready, times[0], times[1], cpu, float(built[1]) if built else float("nan"))
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- databases ---------------------------------------------------------------------------------


def source_trees(baseline: Path | None) -> dict[str, Path]:
    """The `src` folders to time: the baseline's first when one is given, then this tree's."""
    return {"baseline": baseline.resolve(), "this tree": SOURCE} if baseline else {"this tree": SOURCE}


def chosen_databases(databases: str, postgres_url: str | None) -> Iterator[str]:
    """"SQLite" and "PostgreSQL" as `--databases` names them; PostgreSQL only when there is a
    server to use or binaries to start one with."""
    for kind in ("SQLite", "PostgreSQL"):
        if kind.lower() not in databases.lower().split(","):
            continue
        if kind == "PostgreSQL" and not postgres_url and postgres_bin() is None:
            print("PostgreSQL: skipped (no --postgres-url and no server binaries)")
            continue
        yield kind


@contextlib.contextmanager
def databases(kind: str, postgres_url: str | None, tmp: Path, names: list[str]) -> Iterator[dict[str, str]]:
    """One empty database per name."""
    if kind == "SQLite":
        yield {name: f"sqlite:///{tmp / f'{name}.db'}" for name in names}
        return
    with contextlib.ExitStack() as stack:
        admin = postgres_url or stack.enter_context(throwaway_cluster()).url
        urls = {name: create_postgres_database(admin, "flagyard_restart") for name in names}
        try:
            yield urls
        finally:
            for url in urls.values():
                with contextlib.suppress(Exception):
                    drop_postgres_database(admin, url)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def row(label: str, starts: list[Start]) -> dict[str, float]:
    figures = {name: statistics.median(getattr(s, name) for s in starts)
               for name in ("ready", "first", "to_config", "steady", "cpu", "build")}
    print(f"  {label:<18} {figures['ready']:7.2f} s {ms(figures['first']):>12} "
          f"{figures['to_config']:10.2f} s {ms(figures['steady']):>12} {figures['cpu']:9.2f} s "
          f"{figures['build']:7.2f} s")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, help="src directory of the code to compare with")
    parser.add_argument("--postgres-url", default=os.environ.get("FLAGYARD_TEST_DATABASE_URL"),
                        help="a PostgreSQL server to create fresh databases on")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--load", nargs=2, metavar=("URL", "FLAGS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load(args.load[0], int(args.load[1]))
        return
    trees = source_trees(args.baseline_src)
    for kind in chosen_databases(args.databases, args.postgres_url):
        for size in (int(n) for n in args.sizes.split(",")):
            with tempfile.TemporaryDirectory() as tmp, \
                    databases(kind, args.postgres_url, Path(tmp), list(trees)) as urls:
                keys = {name: filled(source, urls[name], size) for name, source in trees.items()}
                starts: dict[str, list[Start]] = {name: [] for name in trees}
                for round_ in range(args.rounds):
                    order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
                    for name in order:
                        starts[name].append(start(trees[name], urls[name], keys[name]))
            print(f"\n{kind}, {size:,} flags in one deployment, medians of {args.rounds} starts")
            print(f"  {'':<18} {'ready':>9} {'first config':>12} {'start→config':>12} "
                  f"{'steady config':>12} {'cpu at ready':>11} {'build':>9}")
            figures = {name: row(name, found) for name, found in starts.items()}
            if "baseline" in figures:
                before, after = figures["baseline"], figures["this tree"]
                print(f"  {'baseline / this':<18} {before['ready'] / after['ready']:8.2f}x "
                      f"{before['first'] / after['first']:11.1f}x {before['to_config'] / after['to_config']:11.2f}x")
            print("  " + json.dumps({"database": kind, "flags": size, **{
                name: {k: round(v, 4) for k, v in f.items()} for name, f in figures.items()}}))


if __name__ == "__main__":
    main()

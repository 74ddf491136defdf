"""What one write costs with many flags in a deployment: incremental snapshot rebuilds.

Loads N enabled flags (default 10,000; each with two variants, a payload, a two-condition
segment and a split) into one deployment on a fresh SQLite file, then:

1. in-process: the cold build, the memory a snapshot holds per flag (tracemalloc), and
   for 30 writes (alternately a rollout edit and a user inclusion) the write and the rebuild
   that follows it;
2. over HTTP against `flagyard serve` (one worker): for 30 writes, `PATCH /api/1/flags/{id}`
   and then the first `GET /sdk/v2/flags` (whole body read), and the steady GET.

    .venv/bin/python benchmarks/incremental_writes.py [--flags 10000] [--writes 30]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_flags import flag_fields  # noqa: E402

from flagyard.clock import utc_now  # noqa: E402
from flagyard.manage.flags import FlagService  # noqa: E402
from flagyard.manage.model.access import OPERATOR  # noqa: E402
from flagyard.manage.model.creation import new_flag  # noqa: E402
from flagyard.manage.model.flags import Kind  # noqa: E402
from flagyard.manage.variants import VariantService  # noqa: E402
from flagyard.serve.snapshot_cache import SnapshotCache  # noqa: E402
from flagyard.store.db import make_engine  # noqa: E402
from flagyard.store.manage.unit_of_work import unit_of_work_factory  # noqa: E402
from tests.support.server import run_cli, running_server  # noqa: E402


def load_flags(url: str, project: int, deployment: int, count: int) -> list[int]:
    """Bulk insert through the repositories in one transaction (the API would take minutes)."""
    engine = make_engine(url)
    now = utc_now()
    ids = []
    with unit_of_work_factory(engine)(write=True) as uow:
        for i in range(count):
            flag = new_flag(Kind.FLAG, project, flag_fields(f"bench-{i}", deployment, i),
                            actor="bench", now=now)
            flag.enabled = flag.started = True
            flag.version = 1
            ids.append(uow.flags.add(flag))
        uow.commit()
    engine.dispose()
    return ids


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary(label: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
    print(f"  {label:<44} median {ms(statistics.median(samples)):>9}   p90 {ms(p90):>9}"
          f"   max {ms(samples[-1]):>9}")


def in_process(url: str, deployment_key: str, ids: list[int], writes: int) -> None:
    engine = make_engine(url)
    uow = unit_of_work_factory(engine)
    evaluation = SnapshotCache(uow)
    writer = unit_of_work_factory(engine, on_commit=evaluation.invalidate)
    flags, variants = FlagService(writer), VariantService(writer)

    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    snapshot = evaluation.snapshot(deployment_key)
    cold = time.perf_counter() - started
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = len(snapshot.deployed_keys)
    print(f"in-process, {n} flags: cold build {ms(cold)} (traced, so slower than untraced); "
          f"body {len(snapshot.everything.body) / 2**20:.2f} MiB (remote), "
          f"{len(snapshot.local.body) / 2**20:.2f} MiB (local)")
    print(f"  memory held by the snapshot: {held / 2**20:.1f} MiB, {held / n / 1024:.2f} KiB per flag "
          f"(JSON bytes + digest + engine flag + graph node, and the joined bodies)")

    write_times, rebuild_times = [], []
    for w in range(writes):
        flag_id = ids[(w * 7919) % len(ids)]
        started = time.perf_counter()
        if w % 2:
            variants.include(OPERATOR, Kind.FLAG, flag_id, "treatment", "users", [f"user-{w}"])
        else:
            flags.edit(OPERATOR, Kind.FLAG, flag_id, {"rollout_percentage": w % 100})
        wrote = time.perf_counter()
        snapshot = evaluation.snapshot(deployment_key)
        _ = snapshot.everything.body
        done = time.perf_counter()
        write_times.append(wrote - started)
        rebuild_times.append(done - wrote)
    summary("write (one transaction)", write_times)
    summary("incremental rebuild after it", rebuild_times)
    summary("write + rebuild", [a + b for a, b in zip(write_times, rebuild_times, strict=True)])
    engine.dispose()


def over_http(url: str, deployment_key: str, admin_key: str, ids: list[int], writes: int) -> None:
    with running_server(url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        sdk = http.client.HTTPConnection("127.0.0.1", port)
        api = http.client.HTTPConnection("127.0.0.1", port)
        sdk_headers = {"Authorization": f"Api-Key {deployment_key}"}
        api_headers = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"}

        def get_flags() -> int:
            sdk.request("GET", "/sdk/v2/flags?v=0&eval_mode=remote", headers=sdk_headers)
            response = sdk.getresponse()
            size = len(response.read())
            assert response.status == 200, response.status
            return size

        started = time.perf_counter()
        size = get_flags()
        print(f"over HTTP, one worker: first GET /sdk/v2/flags (cold compile) {ms(time.perf_counter() - started)},"
              f" {size / 2**20:.2f} MiB")
        steady = []
        for _ in range(20):
            started = time.perf_counter()
            get_flags()
            steady.append(time.perf_counter() - started)
        summary("steady GET /sdk/v2/flags (whole body)", steady)

        write_times, first_get = [], []
        for w in range(writes):
            flag_id = ids[(w * 104729) % len(ids)]
            started = time.perf_counter()
            api.request("PATCH", f"/api/1/flags/{flag_id}", headers=api_headers,
                        body=json.dumps({"rolloutPercentage": (w * 3) % 100}))
            response = api.getresponse()
            response.read()
            assert response.status == 200, response.status
            wrote = time.perf_counter()
            get_flags()
            done = time.perf_counter()
            write_times.append(wrote - started)
            first_get.append(done - wrote)
        summary("PATCH /api/1/flags/{id}", write_times)
        summary("first GET /sdk/v2/flags after it", first_get)
        summary("PATCH + first GET", [a + b for a, b in zip(write_times, first_get, strict=True)])
        rss = Path(f"/proc/{server.process.pid}/status").read_text()
        line = next(x for x in rss.splitlines() if x.startswith("VmRSS"))
        print(f"  server {line.split(':')[1].strip()} resident after the run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        run_cli(url, "db", "upgrade")
        project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
        deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                        "--label", "production").stdout)
        admin_key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
        started = time.perf_counter()
        ids = load_flags(url, int(project), int(deployment["id"]), args.flags)
        print(f"loaded {len(ids)} flags in {time.perf_counter() - started:.1f} s")
        in_process(url, deployment["key"], ids, args.writes)
        over_http(url, deployment["key"], admin_key, ids, args.writes)


if __name__ == "__main__":
    main()

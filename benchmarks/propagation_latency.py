"""How long a write made through one process takes to show on another process's SDK route and
open streams, on SQLite and on PostgreSQL.

Starts two `flagyard serve` processes, A and B, on one database (a fresh SQLite file; for
PostgreSQL a throwaway cluster of its own, or a fresh database on --postgres-url). One stream
is open on B and B's `/sdk/v2/flags` is polled with If-None-Match every 2 ms. Each round sends a
PATCH to A and times, from the moment the request is sent, when B's stream delivers the new
flags and when B's route serves them. Target: p99 under 200 ms on both databases.

    .venv/bin/python benchmarks/propagation_latency.py [--writes 200] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.postgres import postgres_bin, throwaway_cluster  # noqa: E402
from tests.support.server import fresh_database_url, run_cli, running_server  # noqa: E402
from tests.support.sse import SseStream  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def measure(a_url: str, b_url: str, key: str, deployment: dict[str, str], project: str,
                  writes: int) -> tuple[list[float], list[float], list[float], list[float]]:
    api = httpx.AsyncClient(base_url=a_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    sdk = httpx.AsyncClient(base_url=b_url, headers={"Authorization": f"Api-Key {deployment['key']}"},
                            timeout=30)
    flag_id = (await api.post("/api/1/flags", json={
        "projectId": project, "key": "propagated", "evaluationMode": "local",
        "deployments": [deployment["id"]]})).json()["id"]
    (await api.patch(f"/api/1/flags/{flag_id}", json={"enabled": True})).raise_for_status()
    stream = await SseStream.open(b_url, deployment["key"])
    while b'"propagated"' not in await stream.data():
        pass
    etag = (await sdk.get("/sdk/v2/flags")).headers["etag"]
    to_stream, to_route, write_times, after_ack = [], [], [], []
    try:
        for n in range(writes):
            sent = time.perf_counter()
            answer = await api.patch(f"/api/1/flags/{flag_id}", json={"rolloutPercentage": n % 100 + 1})
            acknowledged = time.perf_counter()
            answer.raise_for_status()
            seen_on_stream = asyncio.ensure_future(arrival(stream))
            while True:
                polled = await sdk.get("/sdk/v2/flags", headers={"If-None-Match": etag})
                if polled.status_code == 200:
                    to_route.append(time.perf_counter() - sent)
                    etag = polled.headers["etag"]
                    break
                await asyncio.sleep(0.002)
            to_stream.append(await seen_on_stream - sent)
            write_times.append(acknowledged - sent)
            after_ack.append(min(to_stream[-1], to_route[-1]) - write_times[-1])
            await asyncio.sleep(0.02)
    finally:
        stream.close()
        await api.aclose()
        await sdk.aclose()
    return to_stream, to_route, write_times, after_ack


async def arrival(stream: SseStream) -> float:
    """When the stream's next data event arrived."""
    await stream.data()
    return time.perf_counter()


@contextlib.contextmanager
def database(kind: str, postgres_url: str | None, tmp: Path) -> Iterator[str]:
    if kind == "SQLite":
        yield f"sqlite:///{tmp}/propagation.db"
    elif postgres_url:
        os.environ["FLAGYARD_TEST_DATABASE_URL"] = postgres_url
        yield fresh_database_url(tmp)
    else:
        with throwaway_cluster() as cluster:
            yield cluster.url


def run(kind: str, url: str, writes: int) -> None:
    project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                    "--label", "bench").stdout)
    key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
    env = {"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}
    with running_server(url, env=env) as a, running_server(url, env=env) as b:
        to_stream, to_route, write_times, after_ack = asyncio.run(
            measure(a.base_url, b.base_url, key, deployment, project, writes))
    print(f"{kind}: {writes} writes through process A, seen on process B (ms from the write being "
          "sent; the last line: from A's answer to the first of B's stream or route, which can be "
          "negative when B has it before A's answer arrives)")
    for label, values in (("B's stream", to_stream), ("B's /sdk/v2/flags", to_route),
                          ("A's write itself", write_times),
                          ("B, after A's answer", after_ack)):
        ms = [v * 1000 for v in values]
        print(f"  {label:20s} p50 {statistics.median(ms):6.1f}   p99 {percentile(ms, 99):6.1f}"
              f"   max {max(ms):6.1f}")
    p99 = percentile([v * 1000 for v in to_stream + to_route], 99)
    print(f"  p99 over stream and route: {p99:.1f} ms = {p99 / 200:.2f}x the 200 ms target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--postgres-url", help="a PostgreSQL server to create a fresh database on")
    parser.add_argument("--only", choices=("SQLite", "PostgreSQL"))
    args = parser.parse_args()
    kinds = [args.only] if args.only else ["SQLite", "PostgreSQL"]
    for kind in kinds:
        if kind == "PostgreSQL" and not args.postgres_url and postgres_bin() is None:
            print("PostgreSQL: skipped (no server binaries and no --postgres-url)")
            continue
        with tempfile.TemporaryDirectory() as tmp, database(kind, args.postgres_url, Path(tmp)) as url:
            run(kind, url, args.writes)


if __name__ == "__main__":
    main()

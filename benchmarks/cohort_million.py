"""A cohort of 1,000,000 user ids: adding it, downloading it, evaluating against it.

Starts `flagyard serve` (one process, so its RSS is the server's) on a fresh SQLite file, or
on a fresh database of the PostgreSQL server given with --postgres, and prints:

- the time to add the members through the API in batches of 10,000 ids;
- the time and the server's peak RSS while one client downloads the cohort
  (`GET /sdk/v1/cohort/{id}`, as LocalEvaluationClient does), and the 204 answer's time;
- remote evaluation (`POST /sdk/v2/vardata`, no cohort ids sent) latency and throughput for a
  flag targeting the cohort, against the same for a flag without cohort targeting;
- amplitude-experiment's LocalEvaluationClient with cohort_sync_config: start() time (the
  download included) and evaluations per second after the sync.

    .venv/bin/python benchmarks/cohort_million.py [--members 1000000] [--seconds 5]
    .venv/bin/python benchmarks/cohort_million.py --postgres postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.server import fresh_database_url, run_cli, running_server  # noqa: E402

BATCH = 10_000


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


class PeakRss:
    """Samples a process's resident set every 10 ms while in use."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def member(i: int) -> str:
    return f"user-{i:07d}"


def add_members(api: httpx.Client, cohort_id: str, count: int) -> float:
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        ids = [member(i) for i in range(start, min(start + BATCH, count))]
        api.post(f"/api/1/cohorts/{cohort_id}/members", json={"memberIds": ids}).raise_for_status()
    return time.perf_counter() - started


def make_flag(api: httpx.Client, project: str, deployment: str, key: str, cohort_id: str | None) -> None:
    conditions = ([{"type": "property", "prop": "cohort_ids", "op": "set contains any", "values": [cohort_id]}]
                  if cohort_id else [{"type": "property", "prop": "country", "op": "is", "values": ["DE"]}])
    body = {"projectId": project, "key": key, "deployments": [deployment], "evaluationMode": "local",
            "bucketingKey": "user_id", "rolloutPercentage": 0,
            "targetSegments": [{"name": "targeted", "conditions": conditions, "percentage": 100,
                                "rolloutWeights": {"on": 1}}]}
    flag_id = api.post("/api/1/flags", json=body).json()["id"]
    api.patch(f"/api/1/flags/{flag_id}", json={"enabled": True}).raise_for_status()


def user(i: int, members: int) -> dict[str, object]:
    # Every other user is a member; the others are ids the cohort does not hold.
    return {"user_id": member(i % members) if i % 2 else f"stranger-{i}", "country": "DE"}


def client_loop(port: int, key: str, seconds: float, members: int, seed: int,
                out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    i = seed * 7919
    while time.monotonic() < deadline:
        i += 104729
        started = time.perf_counter()
        conn.request("POST", "/sdk/v2/vardata", body=json.dumps(user(i, members)), headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        assert response.status == 200, response.status
    out.put(latencies)


def remote(port: int, key: str, seconds: float, clients: int, members: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) with `clients` keep-alive client processes."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [multiprocessing.Process(target=client_loop, args=(port, key, seconds, members, n, queue))
             for n in range(clients)]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    latencies = [lat for _ in procs for lat in queue.get()]
    elapsed = time.monotonic() - started
    for proc in procs:
        proc.join()
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000


def median_of(results: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    rate, p50, p99 = zip(*results, strict=True)
    return statistics.median(rate), statistics.median(p50), statistics.median(p99)


def check_remote_answers(base_url: str, key: str, members: int) -> None:
    headers = {"Authorization": f"Api-Key {key}"}
    inside = httpx.post(f"{base_url}/sdk/v2/vardata", json={"user_id": member(members - 1)},
                        headers=headers).json()
    outside = httpx.post(f"{base_url}/sdk/v2/vardata", json={"user_id": "stranger"}, headers=headers).json()
    assert inside["million"]["key"] == "on" and outside["million"]["key"] == "off", (inside, outside)


def local_sdk(base_url: str, key: str, secret: str, members: int, evaluations: int) -> tuple[float, float]:
    from amplitude_experiment import LocalEvaluationClient, LocalEvaluationConfig, User
    from amplitude_experiment.cohort.cohort_sync_config import CohortSyncConfig

    logger = logging.getLogger("cohort-bench")
    logger.setLevel(logging.ERROR)
    config = LocalEvaluationConfig(server_url=base_url, logger=logger, cohort_sync_config=CohortSyncConfig(
        key, secret, cohort_server_url=base_url))
    client = LocalEvaluationClient(key, config)
    started = time.perf_counter()
    client.start()
    start_seconds = time.perf_counter() - started
    started = time.perf_counter()
    on = 0
    for i in range(evaluations):
        fields = user(i * 104729, members)
        result = client.evaluate_v2(User(user_id=str(fields["user_id"]), country="DE"), {"million"})
        on += result["million"].key == "on"
    per_second = evaluations / (time.perf_counter() - started)
    client.stop()
    assert on == evaluations // 2, on  # every other user is a member
    return start_seconds, per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating remote runs, medians shown")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (a fresh database is made and dropped)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            os.environ["FLAGYARD_TEST_DATABASE_URL"] = args.postgres
        url = fresh_database_url(Path(tmp))
        try:
            run(url, args)
        finally:
            if args.postgres:
                drop(args.postgres, url)


def drop(admin_url: str, url: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')
    engine.dispose()


def run(url: str, args: argparse.Namespace) -> None:
    project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project, "--label", "cohorts").stdout)
    plain = json.loads(run_cli(url, "deployments", "create", "--project", project, "--label", "plain").stdout)
    key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
    reader = run_cli(url, "keys", "create", "--name", "sync", "--read-only", "--project", project).stdout.strip()
    members = args.members
    with running_server(url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server, \
            httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as api:
        pid = server.process.pid
        port = int(server.base_url.rsplit(":", 1)[1])
        cohort_id = api.post("/api/1/cohorts", json={"projectId": project, "name": "a million"}).json()["id"]
        add_seconds = add_members(api, cohort_id, members)
        assert api.get(f"/api/1/cohorts/{cohort_id}").json()["size"] == members

        basic = base64.b64encode(f"{deployment['key']}:{reader}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
        download_url = f"{server.base_url}/sdk/v1/cohort/{cohort_id}?maxCohortSize=2147483647"
        rss_before = rss_kib(pid)
        with httpx.Client(timeout=300) as sdk:
            with PeakRss(pid) as peak:
                started = time.perf_counter()
                body = sdk.get(download_url, headers=headers)
                download_seconds = time.perf_counter() - started
            cohort = body.json()
            assert body.status_code == 200 and cohort["size"] == members == len(cohort["memberIds"])
            started = time.perf_counter()
            unchanged = sdk.get(f"{download_url}&lastModified={cohort['lastModified']}", headers=headers)
            unchanged_ms = (time.perf_counter() - started) * 1000
            assert unchanged.status_code == 204

        make_flag(api, project, deployment["id"], "million", cohort_id)
        make_flag(api, project, plain["id"], "plain", None)
        time.sleep(1)
        check_remote_answers(server.base_url, deployment["key"], members)
        # Alternated A B A B …, medians reported: the machine's load moves between runs.
        rounds = [(remote(port, deployment["key"], args.seconds, args.clients, members),
                   remote(port, plain["key"], args.seconds, args.clients, members))
                  for _ in range(args.rounds)]
        with_cohort = median_of([a for a, _ in rounds])
        without = median_of([b for _, b in rounds])
        start_seconds, local_rate = local_sdk(server.base_url, deployment["key"], reader, members, 20_000)

    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"cohort of {members:,} user ids on {database}; 1 server process (uvicorn, 1 worker)")
    print(f"  add, {members // BATCH} POSTs of {BATCH:,} ids: {add_seconds:7.1f} s "
          f"({members / add_seconds:,.0f} ids/s)")
    print(f"  download GET /sdk/v1/cohort:    {download_seconds:7.2f} s, {len(body.content) / 1e6:.1f} MB, "
          f"server RSS {rss_before / 1024:.0f} MiB before, peak {peak.peak / 1024:.0f} MiB "
          f"(+{(peak.peak - rss_before) / 1024:.0f} MiB)")
    print(f"  unchanged (lastModified → 204): {unchanged_ms:7.1f} ms")
    print(f"  remote /sdk/v2/vardata, {args.clients} keep-alive clients, {args.rounds} alternating runs "
          f"of {args.seconds:.0f} s each (medians), half the users members:")
    for label, (rate, p50, p99) in (("flag targeting the cohort", with_cohort),
                                    ("flag without cohorts     ", without)):
        print(f"    {label}: {rate:7.0f} requests/s, p50 {p50:5.2f} ms, p99 {p99:5.2f} ms")
    print(f"    with cohort membership / without: {with_cohort[0] / without[0]:.2f}x the throughput")
    print(f"  local LocalEvaluationClient (cohort_sync_config): start() {start_seconds:.1f} s "
          f"(downloads the cohort), then {local_rate:,.0f} evaluations/s")


if __name__ == "__main__":
    main()

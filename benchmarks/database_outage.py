"""The timeline of a PostgreSQL outage as SDKs, scripts and a load balancer see it.

Starts a throwaway PostgreSQL cluster and one `flagyard serve` process on it, with a served flag.
Three loops run the whole time: an SDK (`POST /sdk/v2/vardata`, `GET /sdk/v2/flags`), a script
(`GET /api/1/flags`, and writes), and a balancer probing `/ready`. After --before seconds the
cluster stops (`pg_ctl stop -m fast`); --down seconds later it starts again. Prints, for the
time the database was down and after it returned: answers by status, latency, and how long
until each kind of request succeeded again.

    .venv/bin/python benchmarks/database_outage.py [--before 3] [--down 5] [--after 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.postgres import throwaway_cluster  # noqa: E402
from tests.support.server import run_cli, running_server  # noqa: E402


@dataclass
class Sample:
    at: float
    status: int
    seconds: float


@dataclass
class Probe:
    name: str
    samples: list[Sample] = field(default_factory=list)


def loop(probe: Probe, client: httpx.Client, request: httpx.Request, stop: threading.Event,
         pause: float) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            status = client.send(request).status_code
        except httpx.TransportError:
            status = 0
        probe.samples.append(Sample(started, status, time.monotonic() - started))
        time.sleep(pause)


def summary(probe: Probe, start: float, end: float) -> str:
    window = [s for s in probe.samples if start <= s.at < end]
    if not window:
        return f"{probe.name:28s} no requests"
    statuses = Counter(s.status for s in window)
    ms = sorted(s.seconds * 1000 for s in window)
    return (f"{probe.name:28s} {len(window):5d} requests  statuses {dict(sorted(statuses.items()))}  "
            f"p50 {statistics.median(ms):6.1f} ms  max {ms[-1]:7.1f} ms")


def first_success_after(probe: Probe, moment: float) -> float | None:
    for sample in probe.samples:
        if sample.at >= moment and sample.status == 200:
            return sample.at + sample.seconds - moment
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=float, default=3.0)
    parser.add_argument("--down", type=float, default=5.0)
    parser.add_argument("--after", type=float, default=5.0)
    args = parser.parse_args()
    with throwaway_cluster() as cluster:
        url = cluster.url
        project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
        deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                        "--label", "bench").stdout)
        key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
        with running_server(url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
            base = server.base_url
            manage = {"Authorization": f"Bearer {key}"}
            sdk = {"Authorization": f"Api-Key {deployment['key']}"}
            with httpx.Client(base_url=base, headers=manage, timeout=60) as api:
                flag_id = api.post("/api/1/flags", json={
                    "projectId": project, "key": "steady", "deployments": [deployment["id"]],
                    "evaluationMode": "local", "rolloutPercentage": 100}).json()["id"]
                api.patch(f"/api/1/flags/{flag_id}", json={"enabled": True}).raise_for_status()
                written_id = api.post("/api/1/flags", json={"projectId": project, "key": "written"}).json()["id"]
            clients = [httpx.Client(base_url=base, timeout=60) for _ in range(5)]
            probes = [
                (Probe("SDK POST /sdk/v2/vardata"), clients[0],
                 clients[0].build_request("POST", "/sdk/v2/vardata", headers=sdk, json={"user_id": "u"}), 0.01),
                (Probe("SDK GET /sdk/v2/flags"), clients[1],
                 clients[1].build_request("GET", "/sdk/v2/flags", headers=sdk), 0.01),
                (Probe("GET /api/1/flags"), clients[2],
                 clients[2].build_request("GET", "/api/1/flags", headers=manage), 0.02),
                (Probe("POST inclusions (a write)"), clients[3],
                 clients[3].build_request("POST", f"/api/1/flags/{written_id}/variants/on/users",
                                          headers=manage, json={"inclusions": ["someone"]}), 0.02),
                (Probe("GET /ready"), clients[4], clients[4].build_request("GET", "/ready"), 0.05),
            ]
            stop = threading.Event()
            threads = [threading.Thread(target=loop, args=(probe, client, request, stop, pause))
                       for probe, client, request, pause in probes]
            for thread in threads:
                thread.start()
            time.sleep(args.before)
            went_down = time.monotonic()
            cluster.stop()
            stopped = time.monotonic()
            time.sleep(args.down)
            restarting = time.monotonic()
            cluster.start()
            came_back = time.monotonic()
            time.sleep(args.after)
            stop.set()
            for thread in threads:
                thread.join()
            for client in clients:
                client.close()

    print(f"PostgreSQL stopped for {came_back - went_down:.1f} s (pg_ctl stop -m fast took "
          f"{stopped - went_down:.1f} s, start {came_back - restarting:.1f} s); one flagyard process; "
          "machine shared with other work")
    print("while the database was down or starting:")
    for probe, *_ in probes:
        print("  " + summary(probe, stopped, came_back))
    print("from the moment PostgreSQL accepted connections again:")
    for probe, *_ in probes:
        back = first_success_after(probe, came_back)
        first = "never" if back is None else f"{back * 1000:.0f} ms"
        print(f"  {probe.name:28s} first 200 after {first}")
    print("over the whole run:")
    for probe, *_ in probes:
        print("  " + summary(probe, 0, float("inf")))


if __name__ == "__main__":
    main()

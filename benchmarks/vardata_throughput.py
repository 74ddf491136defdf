"""Requests per second of remote evaluation (`/sdk/v2/vardata`, GET and POST) against a real server.

Starts `flagyard serve --workers 2` on a fresh SQLite file, creates 1 and then 50 enabled
flags with segments and a split, and drives the endpoint from client processes that each
keep one connection alive (like the SDKs do): `POST` with the user as the body (server SDKs)
and `GET` with the user base64 in `X-Amp-Exp-User` (browser, iOS, Android). Every request
carries a user no request sent before, except in the last row, where each client cycles
through 100 users of its own: the answer to a repeated identical request is reused while the
flags stay the same (serve/answer_cache.py). The clients are Python processes on the server's
cores (the `GET` ones also base64-encode each user), so they bound these figures too;
`unleash_side_by_side.py` drives both forms with wrk.

    .venv/bin/python benchmarks/vardata_throughput.py [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.server import run_cli, running_server  # noqa: E402


def make_flags(base_url: str, key: str, project: str, deployment: str, start: int, count: int) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as api:
        for i in range(start, start + count):
            body = {
                "projectId": project, "key": f"bench-{i}", "deployments": [deployment],
                "bucketingKey": "device_id", "rolloutPercentage": 50,
                "variants": [{"key": "control"}, {"key": "treatment", "payload": {"n": i}}],
                "targetSegments": [{
                    "name": "pros",
                    "conditions": [{"type": "property", "prop": "gp:plan", "op": "is", "values": ["pro"]},
                                   {"type": "property", "prop": "country", "op": "is not", "values": ["FR"]}],
                    "percentage": 100, "rolloutWeights": {"treatment": 1},
                }],
            }
            flag_id = api.post("/api/1/flags", json=body).json()["id"]
            api.patch(f"/api/1/flags/{flag_id}", json={"enabled": True}).raise_for_status()


def client_loop(port: int, deployment_key: str, seconds: float, method: str, client: int,
                pool: int | None, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Api-Key {deployment_key}", "Content-Type": "application/json"}
    run = time.monotonic_ns()  # no two runs share a user
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        n = done % pool if pool else done
        user = {"user_id": f"u{run}-{client}-{n}", "device_id": f"d{run}-{client}-{n}",
                "country": "DE", "user_properties": {"plan": "pro" if n % 3 else "free"}}
        if method == "POST":
            conn.request("POST", "/sdk/v2/vardata?v=0", body=json.dumps(user), headers=headers)
        else:
            encoded = base64.urlsafe_b64encode(json.dumps(user).encode()).decode().rstrip("=")
            conn.request("GET", "/sdk/v2/vardata?v=0", headers={**headers, "X-Amp-Exp-User": encoded})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        done += 1
    out.put(done)


def measure(port: int, deployment_key: str, seconds: float, clients: int, method: str,
            pool: int | None = None) -> float:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [multiprocessing.Process(target=client_loop,
                                     args=(port, deployment_key, seconds, method, client, pool, queue))
             for client in range(clients)]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    total = sum(queue.get() for _ in procs)
    for proc in procs:
        proc.join()
    return total / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    rows: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
        deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                        "--label", "bench").stdout)
        key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
        with running_server(url, "--workers", "2") as server:
            port = int(server.base_url.rsplit(":", 1)[1])
            make_flags(server.base_url, key, project, deployment["id"], 0, 1)
            for method in ("POST", "GET"):
                rows.append((f"{method}, 1 flag", measure(port, deployment["key"], args.seconds,
                                                          args.clients, method), 1))
            make_flags(server.base_url, key, project, deployment["id"], 1, 49)
            time.sleep(1)  # let both workers notice the new revision
            for method in ("POST", "GET"):
                rows.append((f"{method}, 50 flags", measure(port, deployment["key"], args.seconds,
                                                            args.clients, method), 50))
            rows.append(("GET, 50 flags, 100 users per client again and again",
                         measure(port, deployment["key"], args.seconds, args.clients, "GET", pool=100), 50))
    print(f"/sdk/v2/vardata, 2 server workers, {args.clients} keep-alive clients, {args.seconds:.0f} s each;"
          " a new user each request unless said")
    for label, rate, flags in rows:
        print(f"  {label:<54} {rate:8.0f} requests/s  ({rate * flags:.0f} flag evaluations/s)")


if __name__ == "__main__":
    main()

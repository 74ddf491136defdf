"""flagyard against Unleash 7.5.1, side by side on one machine, the same load generator for both.

Sets up, all in a temp dir: a throwaway PostgreSQL 15 cluster (Debian's initdb/pg_ctl, run as
the `postgres` user, on a free port; never the machine's shared server), unleash-server 7.5.1
from npm (installed once into --unleash-dir), and `flagyard serve` (one worker) on its own
database in that cluster. Loads the same N flags into both (two variants, a JSON payload, a
two-condition targeting rule, a 50 % rollout; flagyard through its API, Unleash through its
batch import), then runs wrk against each in turns (A B A B):

| what | flagyard | Unleash |
| --- | --- | --- |
| config endpoint | GET /sdk/v2/flags?eval_mode=remote | GET /api/client/features |
| per-user evaluation | POST /sdk/v2/vardata (a new user each request) | GET /api/frontend?userId=… |
| admin list | GET /api/1/flags?limit=1000 | GET /api/admin/projects/default/features |

    .venv/bin/python benchmarks/unleash_side_by_side.py [--sizes 50,1000] [--seconds 10]

Needs: Node 20 and npm (Debian), wrk (`apt-get install -y wrk`), PostgreSQL 15 binaries.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Result, row, run_wrk  # noqa: E402
from vardata_throughput import make_flags  # noqa: E402

from tests.support.server import cli_env, free_port, run_cli, wait_until_up  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
UNLEASH_VERSION = "7.5.1"
ADMIN_TOKEN = "*:*.bench-admin-token"
CLIENT_TOKEN = "default:development.bench-client-token"
FRONTEND_TOKEN = "default:development.bench-frontend-token"

START_UNLEASH = """
const unleash = require('unleash-server');
unleash.start({
  db: { host: '127.0.0.1', port: Number(process.env.PGPORT), user: 'postgres', password: '',
        database: 'unleash', ssl: false },
  server: { port: Number(process.env.UNLEASH_PORT) },
  logLevel: 'error',
  authentication: { initApiTokens: [
    { environment: '*', project: '*', secret: 'ADMIN', type: 'admin', tokenName: 'bench-admin' },
    { environment: 'development', project: 'default', secret: 'CLIENT', type: 'client',
      tokenName: 'bench-client' },
    { environment: 'development', project: 'default', secret: 'FRONTEND', type: 'frontend',
      tokenName: 'bench-frontend' },
  ] },
});
""".replace("ADMIN", ADMIN_TOKEN).replace("CLIENT", CLIENT_TOKEN).replace("FRONTEND", FRONTEND_TOKEN)


def as_postgres(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                          capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


@contextmanager
def postgres_cluster(tmp: Path) -> Iterator[int]:
    data = tmp / "pgdata"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    tmp.chmod(0o755)
    port = free_port()
    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w", "-o",
                f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200",
                "start")
    try:
        for name in ("unleash", "flagyard"):
            as_postgres("psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c",
                        f"CREATE DATABASE {name}")
        yield port
    finally:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


def install_unleash(directory: Path) -> Path:
    package = directory / "node_modules" / "unleash-server" / "package.json"
    if not package.exists() or json.loads(package.read_text())["version"] != UNLEASH_VERSION:
        directory.mkdir(parents=True, exist_ok=True)
        print(f"installing unleash-server@{UNLEASH_VERSION} into {directory} (about a minute)")
        subprocess.run(["npm", "init", "-y"], cwd=directory, check=True, capture_output=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", f"unleash-server@{UNLEASH_VERSION}"],
                       cwd=directory, check=True, capture_output=True)
    return directory


@contextmanager
def flagyard_server(url: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "flagyard", "serve", "--port", str(port)],
                               env=cli_env(url, FLAGYARD_RATE_LIMIT_PER_SECOND="0"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, timeout=180)  # a loaded machine may take a while
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def unleash_server(directory: Path, pg_port: int) -> Iterator[str]:
    script = directory / "bench_start.js"
    script.write_text(START_UNLEASH)
    port = free_port()
    env = {**os.environ, "PGPORT": str(pg_port), "UNLEASH_PORT": str(port), "NODE_ENV": "production"}
    process = subprocess.Popen(["node", str(script)], cwd=directory, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise SystemExit(f"unleash exited with {process.returncode}")
            time.sleep(0.5)
        else:
            raise SystemExit("unleash did not start within 180 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def load_unleash(base: str, start: int, count: int) -> None:
    """The same flags through Unleash's own import (`POST /api/admin/features-batch/import`,
    the body its export produces), 100 a request: one by one through the admin API, 1,000
    flags take tens of minutes. The import refuses admin tokens, so an admin user's
    personal access token makes it."""
    with httpx.Client(base_url=base, timeout=120) as session:
        session.post("/auth/simple/login", json={"username": "admin", "password": "unleash4all"}
                     ).raise_for_status()
        token = session.post("/api/admin/user/tokens", json={
            "description": f"bench import {start}", "expiresAt": "2099-01-01T00:00:00Z"})
        token.raise_for_status()
    headers = {"Authorization": token.json()["secret"]}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as api:
        for first in range(start, start + count, 100):
            names = [f"bench-{i}" for i in range(first, min(first + 100, start + count))]
            api.post("/api/admin/features-batch/import", json={
                "project": "default", "environment": "development", "data": _unleash_export(names),
            }).raise_for_status()


def _unleash_export(names: list[str]) -> dict[str, object]:
    """Flags as Unleash exports them: two variants, a JSON payload, a two-condition targeting
    rule, a 50 % rollout; the same flags `make_flags` creates in flagyard."""
    def payload(name: str) -> dict[str, str]:
        return {"type": "json", "value": json.dumps({"n": int(name.removeprefix("bench-"))})}

    def rollout(name: str, percent: str) -> dict[str, str]:
        return {"rollout": percent, "stickiness": "default", "groupId": name}

    strategies: list[dict[str, object]] = []
    for name in names:
        strategies.append({
            "name": "flexibleRollout", "featureName": name, "parameters": rollout(name, "100"),
            "constraints": [{"contextName": "plan", "operator": "IN", "values": ["pro"]},
                            {"contextName": "country", "operator": "NOT_IN", "values": ["FR"]}],
            "variants": [{"name": "treatment", "weight": 1000, "weightType": "variable",
                          "stickiness": "default", "payload": payload(name)}],
            "segments": [], "disabled": False, "sortOrder": 0})
        strategies.append({
            "name": "flexibleRollout", "featureName": name, "parameters": rollout(name, "50"),
            "constraints": [],
            "variants": [{"name": "control", "weight": 500, "weightType": "variable", "stickiness": "default"},
                         {"name": "treatment", "weight": 500, "weightType": "variable",
                          "stickiness": "default", "payload": payload(name)}],
            "segments": [], "disabled": False, "sortOrder": 1})
    return {
        "features": [{"name": name, "type": "release", "project": "default", "stale": False,
                      "impressionData": False, "archived": False} for name in names],
        "featureStrategies": strategies,
        "featureEnvironments": [{"name": name, "featureName": name, "environment": "development",
                                 "enabled": True, "variants": []} for name in names],
        "contextFields": [{"name": "plan", "stickiness": False, "legalValues": []},
                          {"name": "country", "stickiness": False, "legalValues": []}],
        "featureTags": [], "segments": [], "tagTypes": [], "dependencies": [],
    }


def flagyard_vardata_lua(deployment_key: str) -> str:
    return f"""
n = 0
request = function()
  n = n + 1
  local plan = (n % 3 == 0) and "free" or "pro"
  local body = '{{"user_id":"u' .. n .. '","device_id":"d' .. n .. '","country":"DE","user_properties":{{"plan":"' .. plan .. '"}}}}'
  return wrk.format("POST", "/sdk/v2/vardata?v=0", {{["Authorization"]="Api-Key {deployment_key}",
    ["Content-Type"]="application/json"}}, body)
end
"""


def unleash_frontend_lua() -> str:
    return f"""
n = 0
request = function()
  n = n + 1
  local plan = (n % 3 == 0) and "free" or "pro"
  return wrk.format("GET", "/api/frontend?userId=u" .. n .. "&properties%5Bplan%5D=" .. plan ..
    "&properties%5Bcountry%5D=DE", {{["Authorization"]="{FRONTEND_TOKEN}"}})
end
"""


def in_turns(rounds: int, a: Callable[[], Result], b: Callable[[], Result]) -> tuple[Result, Result]:
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(a())
        theirs.append(b())
    return _median(ours), _median(theirs)


def _median(results: list[Result]) -> Result:
    return Result(statistics.median(r.rps for r in results), statistics.median(r.p50_ms for r in results),
                  statistics.median(r.p99_ms for r in results), sum(r.errors for r in results))


def check_same_flags(fy_base: str, deployment_key: str, un_base: str, count: int) -> None:
    ours = httpx.get(f"{fy_base}/sdk/v2/flags?eval_mode=remote",
                     headers={"Authorization": f"Api-Key {deployment_key}"}).json()
    theirs = httpx.get(f"{un_base}/api/client/features", headers={"Authorization": CLIENT_TOKEN}).json()
    assert len(ours) == count, len(ours)
    assert len(theirs["features"]) == count, len(theirs["features"])
    deadline = time.monotonic() + 60  # Unleash's frontend API refreshes its flags on a timer
    while True:
        front = httpx.get(f"{un_base}/api/frontend?userId=u1&properties%5Bplan%5D=pro",
                          headers={"Authorization": FRONTEND_TOKEN})
        if front.status_code == 200 and len(front.json()["toggles"]) == count:
            return
        assert time.monotonic() < deadline, front.text[:200]
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,1000")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--unleash-dir", type=Path,
                        default=Path.home() / ".cache" / "flagyard-bench" / "unleash-7.5.1")
    args = parser.parse_args()
    unleash_dir = install_unleash(args.unleash_dir)
    sizes = [int(size) for size in args.sizes.split(",")]
    w = {"seconds": args.seconds, "connections": args.connections}
    with tempfile.TemporaryDirectory() as tmp_name, postgres_cluster(Path(tmp_name)) as pg_port:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/flagyard"
        run_cli(url, "db", "upgrade")
        project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
        deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                        "--label", "production").stdout)
        admin_key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
        dkey = deployment["key"]
        with flagyard_server(url) as fy, unleash_server(unleash_dir, pg_port) as un:
            loaded = 0
            for size in sizes:
                make_flags(fy, admin_key, project, deployment["id"], loaded, size - loaded)
                load_unleash(un, loaded, size - loaded)
                loaded = size
                check_same_flags(fy, dkey, un, size)
                print(f"\n{size} flags in each; wrk -c{args.connections} -d{args.seconds}s, "
                      f"median of {args.rounds} rounds in turns; one flagyard worker, one Node process")
                pairs = [
                    ("config endpoint",
                     lambda: run_wrk(f"{fy}/sdk/v2/flags?v=0&eval_mode=remote", **w,
                                     headers={"Authorization": f"Api-Key {dkey}"}),
                     lambda: run_wrk(f"{un}/api/client/features", **w,
                                     headers={"Authorization": CLIENT_TOKEN})),
                    ("per-user evaluation",
                     lambda: run_wrk(f"{fy}/sdk/v2/vardata", **w, lua=flagyard_vardata_lua(dkey)),
                     lambda: run_wrk(f"{un}/api/frontend", **w, lua=unleash_frontend_lua())),
                    ("admin list",
                     lambda: run_wrk(f"{fy}/api/1/flags?limit=1000", **w,
                                     headers={"Authorization": f"Bearer {admin_key}"}),
                     lambda: run_wrk(f"{un}/api/admin/projects/default/features", **w,
                                     headers={"Authorization": ADMIN_TOKEN})),
                ]
                for label, ours, theirs in pairs:
                    a, b = in_turns(args.rounds, ours, theirs)
                    print(f" {label}:")
                    print(row("flagyard", a))
                    print(row("Unleash 7.5.1", b))
                    verdict = "met" if a.rps >= 2 * b.rps and a.p99_ms < b.p99_ms else "NOT met"
                    print(f"  ratio {a.rps / b.rps:.2f}x req/s, p99 {a.p99_ms:.1f} vs {b.p99_ms:.1f} ms"
                          f" (target >= 2x with a lower p99: {verdict}); load average"
                          f" {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()

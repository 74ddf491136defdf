"""flagyard against Unleash 7.5.1, side by side on one machine, the same load generator for both.

Sets up, all in a temp dir: a throwaway PostgreSQL 15 cluster (Debian's initdb/pg_ctl, run as
the `postgres` user, on a free port; never the machine's shared server unless --postgres-url
names it, then fresh databases are created there and dropped afterwards), unleash-server 7.5.1
from npm (installed once into --unleash-dir), and `flagyard serve` (one worker each) on a SQLite
file and on its own PostgreSQL database. Loads the same N flags into all three (two variants, a
JSON payload, a two-condition targeting rule, a 50 % rollout; flagyard through its API, Unleash
through its batch import), then runs wrk against each in turns (flagyard on SQLite, Unleash,
flagyard on PostgreSQL, Unleash, ...) and compares each flagyard with Unleash's median:

| row | flagyard | Unleash |
| --- | --- | --- |
| config | GET /sdk/v2/flags?eval_mode=remote | GET /api/client/features |
| get | GET /sdk/v2/vardata, the user base64 in X-Amp-Exp-User (browser, iOS, Android) | GET /api/frontend?userId=… |
| post | POST /sdk/v2/vardata, the user in the body (server SDKs) | GET /api/frontend?userId=… |
| list | GET /api/1/flags?limit=1000 | GET /api/admin/projects/default/features |

Every evaluation request carries a user no request of the run sent before (per wrk thread and
per round), so no cache of repeated users helps either server; assignment tracking is left on.

    .venv/bin/python benchmarks/unleash_side_by_side.py [--sizes 50,1000] [--seconds 10]
        [--rounds 2] [--rows config,get,post,list] [--databases sqlite,postgresql]
        [--postgres-url postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres]

Needs: Node 20 and npm (Debian), wrk (`apt-get install -y wrk`), PostgreSQL 15 binaries (or
--postgres-url).
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Result, row, run_wrk  # noqa: E402
from vardata_throughput import make_flags  # noqa: E402

from tests.support.server import (  # noqa: E402
    cli_env,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    run_cli,
    wait_until_up,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
UNLEASH_VERSION = "7.5.1"
ADMIN_TOKEN = "*:*.bench-admin-token"
CLIENT_TOKEN = "default:development.bench-client-token"
FRONTEND_TOKEN = "default:development.bench-frontend-token"

START_UNLEASH = """
const unleash = require('unleash-server');
unleash.start({
  db: { host: process.env.PGHOST, port: Number(process.env.PGPORT), user: process.env.PGUSER,
        password: process.env.PGPASSWORD, database: process.env.PGDATABASE, ssl: false },
  server: { host: '127.0.0.1', port: Number(process.env.UNLEASH_PORT) },
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
def postgres_cluster(tmp: Path) -> Iterator[str]:
    """A throwaway cluster; yields the URL of its `postgres` database."""
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
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


@contextmanager
def fresh_database(admin_url: str, prefix: str) -> Iterator[str]:
    url = create_postgres_database(admin_url, prefix)
    try:
        yield url
    finally:
        drop_postgres_database(admin_url, url)


def install_unleash(directory: Path) -> Path:
    package = directory / "node_modules" / "unleash-server" / "package.json"
    if not package.exists() or json.loads(package.read_text())["version"] != UNLEASH_VERSION:
        directory.mkdir(parents=True, exist_ok=True)
        print(f"installing unleash-server@{UNLEASH_VERSION} into {directory} (about a minute)")
        subprocess.run(["npm", "init", "-y"], cwd=directory, check=True, capture_output=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", f"unleash-server@{UNLEASH_VERSION}"],
                       cwd=directory, check=True, capture_output=True)
    return directory


@dataclass(frozen=True)
class Flagyard:
    label: str
    base: str
    deployment_key: str
    admin_key: str
    project: str
    deployment_id: str


@contextmanager
def flagyard_server(label: str, url: str, **settings: str) -> Iterator[Flagyard]:
    """`flagyard serve` (one worker) on a new database with one project, deployment and key;
    `settings`: more FLAGYARD_ variables."""
    run_cli(url, "db", "upgrade")
    project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                    "--label", "production").stdout)
    admin_key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "flagyard", "serve", "--port", str(port)],
                               env=cli_env(url, FLAGYARD_RATE_LIMIT_PER_SECOND="0", **settings),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, timeout=180)  # a loaded machine may take a while
        yield Flagyard(label, base, deployment["key"], admin_key, project, deployment["id"])
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def unleash_server(directory: Path, database_url: str) -> Iterator[str]:
    script = directory / "bench_start.js"
    script.write_text(START_UNLEASH)
    port = free_port()
    db = sa.make_url(database_url)
    env = {**os.environ, "PGHOST": db.host or "127.0.0.1", "PGPORT": str(db.port or 5432),
           "PGUSER": db.username or "postgres", "PGPASSWORD": db.password or "",
           "PGDATABASE": db.database or "unleash", "UNLEASH_PORT": str(port), "NODE_ENV": "production"}
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


# Each wrk thread numbers its requests; a user's id is the run's tag, the thread's number and
# the request's, so no two requests of a run, a thread or a round share a user.
_USERS_LUA = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
n = 0
local function next_user()
  n = n + 1
  return string.format("%d%08d", tid, n), (n % 3 == 0) and "free" or "pro"
end
"""


def _run_tag() -> str:
    return uuid.uuid4().hex[:6]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def flagyard_get_lua(deployment_key: str) -> str:
    """GET with the user in X-Amp-Exp-User, base64url without padding as the browser SDK sends
    it. Encoding in Lua per request would take wrk's CPU from the server on a two-core machine,
    so the header is joined from pieces encoded here: every piece but the last is a multiple of
    three bytes long (JSON whitespace pads them), and the nine-digit id is three-digit groups
    looked up in a table of their encodings."""
    tag = _run_tag()

    def aligned(before: str, after: str) -> str:  # spaces where JSON allows them
        return before + " " * (-(len(before) + len(after)) % 3) + after

    head = aligned("{", f'"user_id":"u{tag}')
    middle = aligned('",', f'"device_id":"d{tag}')
    tails = {plan: _b64(f'","country":"DE","user_properties":{{"plan":"{plan}"}}}}')
             for plan in ("pro", "free")}
    groups = ",".join(f'["{i:03d}"]="{_b64(f"{i:03d}")}"' for i in range(1000))
    return _USERS_LUA + f"""
local groups = {{{groups}}}
local function encoded(id)
  return groups[id:sub(1, 3)] .. groups[id:sub(4, 6)] .. groups[id:sub(7, 9)]
end
request = function()
  local id, plan = next_user()
  local ids = encoded(id)
  local user = "{_b64(head)}" .. ids .. "{_b64(middle)}" .. ids ..
    ((plan == "pro") and "{tails["pro"]}" or "{tails["free"]}")
  return wrk.format("GET", "/sdk/v2/vardata?v=0", {{["Authorization"]="Api-Key {deployment_key}",
    ["X-Amp-Exp-User"]=user}})
end
"""


def flagyard_post_lua(deployment_key: str) -> str:
    return _USERS_LUA + f"""
request = function()
  local id, plan = next_user()
  local body = '{{"user_id":"u{_run_tag()}' .. id .. '","device_id":"d' .. id ..
    '","country":"DE","user_properties":{{"plan":"' .. plan .. '"}}}}'
  return wrk.format("POST", "/sdk/v2/vardata?v=0", {{["Authorization"]="Api-Key {deployment_key}",
    ["Content-Type"]="application/json"}}, body)
end
"""


def unleash_frontend_lua() -> str:
    return _USERS_LUA + f"""
request = function()
  local id, plan = next_user()
  return wrk.format("GET", "/api/frontend?userId=u{_run_tag()}" .. id .. "&properties%5Bplan%5D=" ..
    plan .. "&properties%5Bcountry%5D=DE", {{["Authorization"]="{FRONTEND_TOKEN}"}})
end
"""


Wrk = Callable[..., Result]  # run_wrk with the run's duration and connections


@dataclass(frozen=True)
class Row:
    name: str
    title: str
    ours: Callable[[Flagyard, Wrk], Result]
    theirs: Callable[[str, Wrk], Result]
    min_ratio: float  # the target: at least this many times Unleash's requests per second
    p99_share: float  # ... with a p99 below this share of Unleash's

    def verdict(self, ours: Result, theirs: Result) -> str:
        met = ours.rps >= self.min_ratio * theirs.rps and ours.p99_ms < self.p99_share * theirs.p99_ms
        share = "lower" if self.p99_share == 1 else f"below {self.p99_share:.2g} of Unleash's"
        return f"target >= {self.min_ratio:g}x with a p99 {share}: {'met' if met else 'NOT met'}"


def _frontend(un: str, wrk: Wrk) -> Result:
    return wrk(f"{un}/api/frontend", lua=unleash_frontend_lua())


ROWS = {
    "config": Row(
        "config", "config endpoint (GET /sdk/v2/flags?eval_mode=remote vs /api/client/features)",
        lambda fy, wrk: wrk(f"{fy.base}/sdk/v2/flags?v=0&eval_mode=remote",
                            headers={"Authorization": f"Api-Key {fy.deployment_key}"}),
        lambda un, wrk: wrk(f"{un}/api/client/features", headers={"Authorization": CLIENT_TOKEN}),
        2, 1),
    "get": Row(
        "get", "evaluation, browser and mobile SDKs (GET /sdk/v2/vardata + X-Amp-Exp-User vs "
               "/api/frontend), a new user each request",
        lambda fy, wrk: wrk(f"{fy.base}/sdk/v2/vardata", lua=flagyard_get_lua(fy.deployment_key)),
        _frontend, 4, 1 / 3),
    "post": Row(
        "post", "evaluation, server SDKs (POST /sdk/v2/vardata vs /api/frontend), "
                "a new user each request",
        lambda fy, wrk: wrk(f"{fy.base}/sdk/v2/vardata", lua=flagyard_post_lua(fy.deployment_key)),
        _frontend, 4, 1 / 3),
    "list": Row(
        "list", "admin list (GET /api/1/flags?limit=1000 vs /api/admin/projects/default/features)",
        lambda fy, wrk: wrk(f"{fy.base}/api/1/flags?limit=1000",
                            headers={"Authorization": f"Bearer {fy.admin_key}"}),
        lambda un, wrk: wrk(f"{un}/api/admin/projects/default/features",
                            headers={"Authorization": ADMIN_TOKEN}),
        2, 1),
}


def in_turns(rounds: int, ours: list[Callable[[], Result]], theirs: Callable[[], Result]
             ) -> tuple[list[Result], Result]:
    """Each flagyard, then Unleash, in turns (A B A' B ...); the median of each one's rounds."""
    mine: list[list[Result]] = [[] for _ in ours]
    unleash: list[Result] = []
    for _ in range(rounds):
        for results, run in zip(mine, ours, strict=True):
            results.append(run())
            unleash.append(theirs())
    return [_median(results) for results in mine], _median(unleash)


def _median(results: list[Result]) -> Result:
    return Result(statistics.median(r.rps for r in results), statistics.median(r.p50_ms for r in results),
                  statistics.median(r.p99_ms for r in results), sum(r.errors for r in results))


def check_same_flags(servers: list[Flagyard], un_base: str, count: int) -> None:
    for fy in servers:
        ours = httpx.get(f"{fy.base}/sdk/v2/flags?eval_mode=remote",
                         headers={"Authorization": f"Api-Key {fy.deployment_key}"}).json()
        assert len(ours) == count, (fy.label, len(ours))
        user = _b64(json.dumps({"user_id": "u1", "device_id": "d1", "country": "DE",
                                "user_properties": {"plan": "pro"}}))
        got = httpx.get(f"{fy.base}/sdk/v2/vardata?v=0", headers={
            "Authorization": f"Api-Key {fy.deployment_key}", "X-Amp-Exp-User": user}).json()
        assert len(got) == count and got["bench-0"]["key"] == "treatment", (fy.label, got)
    theirs = httpx.get(f"{un_base}/api/client/features", headers={"Authorization": CLIENT_TOKEN}).json()
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
    parser.add_argument("--rows", default=",".join(ROWS), help=f"some of {','.join(ROWS)}")
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="flagyard's databases: sqlite, postgresql or both")
    parser.add_argument("--postgres-url", help="a running PostgreSQL server to create fresh "
                        "databases on (Unleash's and flagyard's) instead of a throwaway cluster")
    parser.add_argument("--unleash-dir", type=Path,
                        default=Path.home() / ".cache" / "flagyard-bench" / "unleash-7.5.1")
    args = parser.parse_args()
    rows = [ROWS[name] for name in args.rows.split(",")]
    databases = args.databases.split(",")
    if not set(databases) <= {"sqlite", "postgresql"}:
        raise SystemExit("--databases takes sqlite, postgresql or both")
    unleash_dir = install_unleash(args.unleash_dir)
    sizes = [int(size) for size in args.sizes.split(",")]
    wrk: Wrk = functools.partial(run_wrk, seconds=args.seconds, connections=args.connections)
    with tempfile.TemporaryDirectory() as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        admin_url = args.postgres_url or stack.enter_context(postgres_cluster(tmp))
        unleash_db = stack.enter_context(fresh_database(admin_url, "unleash_bench"))
        servers = []
        for database in databases:
            url = (f"sqlite:///{tmp}/flagyard.db" if database == "sqlite"
                   else stack.enter_context(fresh_database(admin_url, "flagyard_bench")))
            label = "flagyard, SQLite" if database == "sqlite" else "flagyard, PostgreSQL"
            servers.append(stack.enter_context(flagyard_server(label, url)))
        un = stack.enter_context(unleash_server(unleash_dir, unleash_db))
        loaded = 0
        for size in sizes:
            for fy in servers:
                make_flags(fy.base, fy.admin_key, fy.project, fy.deployment_id, loaded, size - loaded)
            load_unleash(un, loaded, size - loaded)
            loaded = size
            check_same_flags(servers, un, size)
            print(f"\n{size} flags in each; wrk -c{args.connections} -d{args.seconds}s, "
                  f"median of {args.rounds} rounds in turns; one flagyard worker each, one Node process")
            for r in rows:
                mine, theirs = in_turns(args.rounds, [functools.partial(r.ours, fy, wrk) for fy in servers],
                                        functools.partial(r.theirs, un, wrk))
                print(f" {r.title}:")
                print(row("Unleash 7.5.1 (PostgreSQL)", theirs))
                for fy, ours in zip(servers, mine, strict=True):
                    print(row(fy.label, ours))
                    print(f"    {fy.label}: {ours.rps / theirs.rps:.2f}x req/s, p99 {ours.p99_ms:.1f}"
                          f" vs {theirs.p99_ms:.1f} ms ({r.verdict(ours, theirs)})")
                print(f"  load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()

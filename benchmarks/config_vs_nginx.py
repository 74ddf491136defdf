"""The config endpoint against nginx serving the very same bytes, with the same load generator.

Starts `flagyard serve` (one worker) on a fresh SQLite file with N enabled flags (default
50), saves the `/sdk/v2/flags` body to a file, serves that file from nginx (Debian's
`nginx`, one worker, own config in a temp dir, a free port, `sendfile on` as an nginx serving
files runs), then runs wrk against each in turns (A B A B) and prints req/s, p99 and the ratio. Neither writes an access log (nginx's
`access_log off`, flagyard's `FLAGYARD_ACCESS_LOG=false`).

    .venv/bin/python benchmarks/config_vs_nginx.py [--flags 50] [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Result, row, run_wrk  # noqa: E402
from vardata_throughput import make_flags  # noqa: E402

from tests.support.server import free_port, run_cli, running_server  # noqa: E402

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on; tcp_nopush on;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location /sdk/v2/flags {{ default_type application/json; alias {tmp}/flags.json; }}
    }}
}}
"""


def start_nginx(tmp: Path, body: bytes) -> tuple[subprocess.Popen[bytes], int]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed: apt-get install -y nginx")
    port = free_port()
    tmp.chmod(0o755)  # nginx's workers run as an unprivileged user when started as root
    (tmp / "flags.json").write_bytes(body)
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
    process = subprocess.Popen([nginx, "-c", str(tmp / "nginx.conf"), "-p", str(tmp)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/sdk/v2/flags").content == body:
                return process, port
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"nginx did not start; see {tmp}/error.log")


def median(results: list[Result]) -> Result:
    return Result(statistics.median(r.rps for r in results), statistics.median(r.p50_ms for r in results),
                  statistics.median(r.p99_ms for r in results), sum(r.errors for r in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = f"sqlite:///{tmp}/bench.db"
        run_cli(url, "db", "upgrade")
        project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
        deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                        "--label", "production").stdout)
        key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
        with running_server(url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0", "FLAGYARD_ACCESS_LOG": "false"}) as server:
            make_flags(server.base_url, key, project, deployment["id"], 0, args.flags)
            auth = {"Authorization": f"Api-Key {deployment['key']}"}
            path = "/sdk/v2/flags?v=0&eval_mode=remote"
            body = httpx.get(server.base_url + path, headers=auth).content
            nginx, port = start_nginx(tmp, body)
            try:
                ours: list[Result] = []
                theirs: list[Result] = []
                for _ in range(args.rounds):
                    ours.append(run_wrk(server.base_url + path, seconds=args.seconds,
                                        connections=args.connections, headers=auth))
                    theirs.append(run_wrk(f"http://127.0.0.1:{port}{path}", seconds=args.seconds,
                                          connections=args.connections))
            finally:
                nginx.terminate()
                nginx.wait()
        a, b = median(ours), median(theirs)
        print(f"config endpoint, {args.flags} flags, {len(body):,} bytes, wrk -c{args.connections} "
              f"-d{args.seconds}s, median of {args.rounds} rounds in turns, one process each:")
        print(row("flagyard GET /sdk/v2/flags", a))
        print(row("nginx, the same bytes from a file", b))
        print(f"  flagyard / nginx: {a.rps / b.rps:.2f}x the requests per second "
              f"(target 0.40x); p99 {a.p99_ms:.2f} ms vs {b.p99_ms:.2f} ms")


if __name__ == "__main__":
    main()

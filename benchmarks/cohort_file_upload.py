"""A file of 1,000,000 member ids uploaded through the console's cohort page, all or nothing.

Starts `flagyard serve` (one process, so its RSS is the server's) on a fresh SQLite file, or
on a fresh database of the PostgreSQL server given with --postgres, signs in to the console
as an editor and prints, for a file of N ids (36 bytes each):

- add: the file posted as the page's form does (multipart, streamed from disk by the client),
  then checked line by line and written in one transaction; the time and the server's peak RSS
  against the file's size (the file is spooled to disk, never held whole);
- the same ids added through the Management API in POSTs of 10,000 (each its own transaction:
  the way before a file could be sent), for comparison;
- replace: the cohort's N members replaced by N other ids from a file, in one transaction;
- refused: a file of N ids whose last line is too long, answered 400 naming the line, the
  cohort unchanged.

    .venv/bin/python benchmarks/cohort_file_upload.py [--members 1000000]
    .venv/bin/python benchmarks/cohort_file_upload.py --postgres postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cohort_million import PeakRss, drop, rss_kib  # noqa: E402
from tests.console.support import signed_in_client  # noqa: E402
from tests.support.server import cli_env, fresh_database_url, run_cli, running_server  # noqa: E402

BATCH = 10_000
PASSWORD = "correct horse battery"


def write_ids(path: Path, prefix: str, count: int, last: str | None = None) -> int:
    with path.open("w") as out:
        for i in range(count):
            out.write(f"{prefix}-{i:030d}\n" if i < count - 1 or last is None else last + "\n")
    return path.stat().st_size


def upload(client: httpx.Client, csrf: str, cohort_id: str, path: Path, mode: str) -> httpx.Response:
    with path.open("rb") as file:
        return client.post(f"/console/cohorts/{cohort_id}/members",
                           data={"csrf_token": csrf, "mode": mode, "format": "text"},
                           files={"file": (path.name, file, "text/plain")})


def size(api: httpx.Client, cohort_id: str) -> int:
    return int(api.get(f"/api/1/cohorts/{cohort_id}").json()["size"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (a fresh database is made and dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            os.environ["FLAGYARD_TEST_DATABASE_URL"] = args.postgres
        url = fresh_database_url(Path(tmp))
        try:
            run(url, args.members, Path(tmp))
        finally:
            if args.postgres:
                drop(args.postgres, url)


def run(url: str, members: int, tmp: Path) -> None:
    project = run_cli(url, "projects", "create", "--name", "bench").stdout.strip()
    key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
    subprocess.run([sys.executable, "-m", "flagyard", "users", "create", "--email", "editor@example.com",
                    "--role", "editor", "--password-stdin"], input=PASSWORD + "\n", env=cli_env(url),
                   capture_output=True, text=True, timeout=60, check=True)
    first, second, bad = tmp / "first.txt", tmp / "second.txt", tmp / "bad.txt"
    file_bytes = write_ids(first, "a", members)
    write_ids(second, "b", members)
    write_ids(bad, "c", members, last="x" * 1001)
    with running_server(url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server, \
            httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=600) as api:
        client, csrf = signed_in_client(server.base_url, "editor@example.com", PASSWORD)
        client.timeout = httpx.Timeout(600)
        pid = server.process.pid

        def new_cohort(name: str) -> str:
            return str(api.post("/api/1/cohorts", json={"projectId": project, "name": name}).json()["id"])

        cohort = new_cohort("from a file")
        rss_before = rss_kib(pid)
        with PeakRss(pid) as peak:
            started = time.perf_counter()
            added = upload(client, csrf, cohort, first, "add")
            add_seconds = time.perf_counter() - started
        assert added.status_code == 303, added.text[:500]
        assert size(api, cohort) == members

        batched = new_cohort("in batches")
        started = time.perf_counter()
        with first.open() as ids:
            while batch := [line.rstrip("\n") for _, line in zip(range(BATCH), ids, strict=False)]:
                api.post(f"/api/1/cohorts/{batched}/members", json={"memberIds": batch}).raise_for_status()
        batch_seconds = time.perf_counter() - started
        assert size(api, batched) == members

        started = time.perf_counter()
        replaced = upload(client, csrf, cohort, second, "replace")
        replace_seconds = time.perf_counter() - started
        assert replaced.status_code == 303 and size(api, cohort) == members

        before = api.get(f"/api/1/cohorts/{cohort}").json()
        started = time.perf_counter()
        refused = upload(client, csrf, cohort, bad, "add")
        refuse_seconds = time.perf_counter() - started
        assert refused.status_code == 400 and re.search(rf"line {members} holds an id longer", refused.text)
        assert api.get(f"/api/1/cohorts/{cohort}").json() == before
        client.close()

    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    mb = file_bytes / 1e6
    print(f"a file of {members:,} member ids ({mb:.1f} MB) on {database}; 1 server process (uvicorn, 1 worker)")
    print(f"  add from the console, one form, one transaction: {add_seconds:6.1f} s "
          f"({members / add_seconds:,.0f} ids/s); server RSS {rss_before / 1024:.0f} MiB before, peak "
          f"{peak.peak / 1024:.0f} MiB (+{(peak.peak - rss_before) / 1024:.0f} MiB for a {mb:.0f} MB file)")
    print(f"  add through the API, {members // BATCH} POSTs of {BATCH:,}:    {batch_seconds:6.1f} s "
          f"({members / batch_seconds:,.0f} ids/s); the file takes {add_seconds / batch_seconds:.2f}x the time")
    print(f"  replace {members:,} members by {members:,} others:   {replace_seconds:6.1f} s")
    print(f"  refused (last line too long), nothing changed: {refuse_seconds:6.1f} s")


if __name__ == "__main__":
    main()

"""Export and import of a large project (flags as code) against a real server.

Starts `flagyard serve` on a fresh SQLite file (or FLAGYARD_TEST_DATABASE_URL's PostgreSQL),
creates a project of N flags (two variants with payloads, a target segment, 20 included users
each), then times over HTTP: the export, the import into an empty project (one transaction),
the same import again (nothing to do), and a dry run. Prints seconds and flags per second.

    .venv/bin/python benchmarks/project_files.py [--flags 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.server import fresh_database_url, run_cli, running_server  # noqa: E402


def make_project(api: httpx.Client, project: str, deployment: str, count: int) -> None:
    for i in range(count):
        body = {
            "projectId": project, "key": f"flag-{i:04d}", "deployments": [deployment],
            "rolloutPercentage": 50,
            "variants": [{"key": "control"}, {"key": "treatment", "payload": {"n": i, "on": True}}],
            "targetSegments": [{"name": "pros", "percentage": 100, "rolloutWeights": {"treatment": 1},
                                "conditions": [{"type": "property", "prop": "gp:plan", "op": "is",
                                                "values": ["pro"]}]}],
        }
        flag_id = api.post("/api/1/flags", json=body).json()["id"]
        api.post(f"/api/1/flags/{flag_id}/variants/treatment/users",
                 json={"inclusions": [f"user-{i}-{j}" for j in range(20)]}).raise_for_status()
        api.patch(f"/api/1/flags/{flag_id}", json={"enabled": True}).raise_for_status()


def timed(action):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flags", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database_url(Path(tmp))
        source = run_cli(url, "projects", "create", "--name", "source").stdout.strip()
        target = run_cli(url, "projects", "create", "--name", "target").stdout.strip()
        key = run_cli(url, "keys", "create", "--name", "bench").stdout.strip()
        env = {"FLAGYARD_RATE_LIMIT_PER_SECOND": "0", "FLAGYARD_MAX_BODY_BYTES": str(64 << 20)}
        with running_server(url, env=env) as server, httpx.Client(
                base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=600) as api:
            deployment = api.post("/api/1/deployments", json={"projectId": source, "label": "prod"}).json()["id"]
            make_project(api, source, deployment, args.flags)

            export_s, exported = timed(lambda: api.get(f"/api/1/projects/{source}/export"))
            document = exported.content
            import_s, first = timed(lambda: api.post(f"/api/1/projects/{target}/import", content=document))
            again_s, second = timed(lambda: api.post(f"/api/1/projects/{target}/import", content=document))
            dry_s, _ = timed(lambda: api.post(f"/api/1/projects/{source}/import",
                                              params={"dryRun": "true"}, content=document))
            assert first.status_code == 200 and second.json()["changes"] == [], second.text
            same = api.get(f"/api/1/projects/{target}/export").content == document

    n = args.flags
    print(f"project of {n} flags, {len(document) / 1024:.0f} KiB as JSON; round trip identical: {same}")
    print(f"export                   {export_s:7.2f} s  {n / export_s:8.0f} flags/s")
    print(f"import into empty        {import_s:7.2f} s  {n / import_s:8.0f} flags/s  (one transaction)")
    print(f"import again (no change) {again_s:7.2f} s  {n / again_s:8.0f} flags/s")
    print(f"dry run, nothing to do   {dry_s:7.2f} s  {n / dry_s:8.0f} flags/s")
    print(f"import / export          {import_s / export_s:7.1f}x")


if __name__ == "__main__":
    main()

"""Export and import of a large project (flags as code) against a real server.

Starts `flagyard serve` on a fresh SQLite file (or FLAGYARD_TEST_DATABASE_URL's PostgreSQL),
creates a project of N flags (two variants with payloads, a target segment, 20 included users
each), then times over HTTP: the export, the import into an empty project (one transaction),
the same import again (nothing to do), and a dry run. Prints seconds and flags per second.

    .venv/bin/python benchmarks/project_files.py [--flags 300]

With --sizes, `flagyard import FILE` itself is timed as an operator runs it (the whole command,
from its start), for project files of each size (flags shaped as above, every tenth depending
on the one before, as YAML, the export's default, or --format json): into an empty project on
a fresh database (SQLite; PostgreSQL: a fresh database on --postgres-url, or a throwaway
cluster), then the same file again (nothing to do). Medians of --rounds. With --baseline-src
(another checkout's src directory, see benchmarks/restart.py) each round runs the baseline's
command and this tree's in turn, and the ratios baseline / this tree are printed.

    .venv/bin/python benchmarks/project_files.py --sizes 1000,3000,10000 [--rounds 3]
        [--format yaml|json] [--baseline-src /tmp/before/src] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restart import chosen_databases, databases, env_for, source_trees  # noqa: E402

from flagyard.manage import project_file_codec  # noqa: E402
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


def project_file(count: int) -> dict[str, object]:
    """The document `make_project` would export, every tenth flag depending on the one before."""
    flags = [{
        "key": f"flag-{i:05d}", "enabled": True, "deployments": ["prod"], "rolloutPercentage": 50,
        "parentDependencies": ({"operator": "all", "flags": {f"flag-{i - 1:05d}": ["treatment"]}}
                               if i % 10 == 1 else None),
        "variants": [{"key": "control"},
                     {"key": "treatment", "payload": {"n": i, "on": True},
                      "users": [f"user-{i}-{j}" for j in range(20)]}],
        "targetSegments": [{"name": "pros", "percentage": 100, "rolloutWeights": {"treatment": 1},
                            "conditions": [{"type": "property", "prop": "gp:plan", "op": "is",
                                            "values": ["pro"]}]}],
    } for i in range(count)]
    return {"formatVersion": 1, "deployments": [{"label": "prod", "type": "server"}], "flags": flags}


def flagyard(source: Path, url: str, *args: str) -> tuple[float, str]:
    """Run `flagyard ARGS` with the given tree; (seconds, stdout)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flagyard", *args], env=env_for(source, url),
                          capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"flagyard {args[0]} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started, done.stdout


def cli_import(source: Path, url: str, file: Path, count: int) -> tuple[float, float]:
    """(seconds of the first import into an empty project, of the same import again)."""
    flagyard(source, url, "db", "upgrade")
    project = flagyard(source, url, "projects", "create", "--name", "target")[1].strip()
    first, out = flagyard(source, url, "import", str(file), "--project", project)
    assert f"applied {count + 1} changes" in out, out[-300:]
    again, out = flagyard(source, url, "import", str(file), "--project", project)
    assert "nothing to apply" in out, out[-300:]
    return first, again


def cli_benchmark(args: argparse.Namespace) -> None:
    trees = source_trees(args.baseline_src)
    for kind in chosen_databases(args.databases, args.postgres_url):
        for size in (int(n) for n in args.sizes.split(",")):
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
            with tempfile.TemporaryDirectory() as tmp:
                file = Path(tmp) / f"project.{args.format}"
                file.write_text(project_file_codec.dump(project_file(size), args.format))
                mib = file.stat().st_size / 2**20
                for round_ in range(args.rounds):
                    order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
                    names = [f"{name.replace(' ', '_')}_{round_}" for name in order]
                    with databases(kind, args.postgres_url, Path(tmp), names) as urls:
                        for name, database in zip(order, names, strict=True):
                            times[name].append(cli_import(trees[name], urls[database], file, size))
            print(f"\n{kind}: flagyard import of {size:,} flags ({args.format}, "
                  f"{mib:.1f} MiB), medians of {args.rounds}")
            print(f"  {'':<18} {'into empty':>11} {'again':>9}")
            medians = {}
            for name, found in times.items():
                first = statistics.median(t[0] for t in found)
                again = statistics.median(t[1] for t in found)
                medians[name] = {"first": round(first, 3), "again": round(again, 3)}
                print(f"  {name:<18} {first:9.2f} s {again:7.2f} s")
            if "baseline" in medians:
                before, after = medians["baseline"], medians["this tree"]
                print(f"  {'baseline / this':<18} {before['first'] / after['first']:10.1f}x "
                      f"{before['again'] / after['again']:8.1f}x")
            print("  " + json.dumps({"database": kind, "flags": size, "format": args.format, **medians}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flags", type=int, default=300)
    parser.add_argument("--sizes", help="time `flagyard import` at these sizes, e.g. 1000,3000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml")
    parser.add_argument("--baseline-src", type=Path, help="src directory of the code to compare with")
    parser.add_argument("--postgres-url", default=os.environ.get("FLAGYARD_TEST_DATABASE_URL"))
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    if args.sizes:
        cli_benchmark(args)
        return
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

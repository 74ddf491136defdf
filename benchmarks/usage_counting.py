"""What counting flag usage costs the serving path: the same server with counting on and off.

Two `flagyard serve` processes (one worker each, SQLite files), each with N enabled flags on one
deployment; one counts evaluations for flag usage (the default, written every 10 s), the other
runs with `FLAGYARD_USAGE_COUNTING=false`. wrk drives each in turns (on, off, on, off, ...) with
32 connections:

- `GET /sdk/v2/vardata` with the same user in `X-Amp-Exp-User` on every request: the answer is
  reused (serve/answer_cache.py), the cheapest request there is, where a counter's cost would
  show most;
- `POST /sdk/v2/vardata` with a new user each request (the evaluation runs).

Prints each side's median over the rounds and the ratio on/off, then stops the counting server
(which writes what it has counted) and prints the usage it recorded beside the requests wrk
reports it answered (requests/s × seconds, so within wrk's rounding).

    .venv/bin/python benchmarks/usage_counting.py [--sizes 50,1000] [--seconds 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Result, row, run_wrk  # noqa: E402
from unleash_side_by_side import Flagyard, flagyard_post_lua, flagyard_server  # noqa: E402
from vardata_throughput import make_flags  # noqa: E402


def repeated_get(fy: Flagyard, wrk: functools.partial[Result]) -> Result:
    user = base64.urlsafe_b64encode(json.dumps({"user_id": "returning", "device_id": "d1"}).encode())
    return wrk(f"{fy.base}/sdk/v2/vardata?v=0", headers={
        "Authorization": f"Api-Key {fy.deployment_key}", "X-Amp-Exp-User": user.decode().rstrip("=")})


def new_user_post(fy: Flagyard, wrk: functools.partial[Result]) -> Result:
    return wrk(f"{fy.base}/sdk/v2/vardata", lua=flagyard_post_lua(fy.deployment_key))


def counted(base: str, admin_key: str, flag_key: str) -> int:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin_key}"}) as api:
        flags = api.get("/api/1/flags", params={"limit": 1000}).json()["flags"]
        flag_id = next(f["id"] for f in flags if f["key"] == flag_key)
        return int(api.get(f"/api/1/flags/{flag_id}/usage").json()["evaluations"])


def median(results: list[Result]) -> Result:
    return Result(statistics.median(r.rps for r in results), statistics.median(r.p50_ms for r in results),
                  statistics.median(r.p99_ms for r in results), sum(r.errors for r in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    wrk = functools.partial(run_wrk, seconds=args.seconds, connections=args.connections)
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            urls = [f"sqlite:///{Path(tmp) / side}.db" for side in ("on", "off")]
            with flagyard_server("counting", urls[0]) as on, \
                    flagyard_server("not counting", urls[1], FLAGYARD_USAGE_COUNTING="false") as off:
                for fy in (on, off):
                    make_flags(fy.base, fy.admin_key, fy.project, fy.deployment_id, 0, size)
                print(f"\n{size} flags; wrk -c{args.connections} -d{args.seconds}s, {args.rounds} rounds in turns")
                answered = 0
                for label, run in (("GET, the same user (answer reused)", repeated_get),
                                   ("POST, a new user each request", new_user_post)):
                    results: dict[str, list[Result]] = {"on": [], "off": []}
                    for _ in range(args.rounds):  # in turns: on, off, on, off, ...
                        results["on"].append(run(on, wrk))
                        results["off"].append(run(off, wrk))
                    answered += sum(round(r.rps * args.seconds) for r in results["on"])
                    median_on, median_off = median(results["on"]), median(results["off"])
                    print(row(f"{label}, counting", median_on))
                    print(row(f"{label}, not counting", median_off))
                    print(f"  {'ratio counting / not counting':<52} {median_on.rps / median_off.rps:>10.2f}×")
            # The counting server has stopped: everything it counted is written.
            with flagyard_server("reader", urls[0]) as reader:
                written = counted(reader.base, on.admin_key, "bench-0")
            print(f"  usage of bench-0 after the runs: {written:,} evaluations "
                  f"(wrk reported about {answered:,} requests answered)")


if __name__ == "__main__":
    main()

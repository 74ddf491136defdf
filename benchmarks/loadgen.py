"""One load generator for every side-by-side benchmark: wrk (Debian's `wrk` package).

`run_wrk` drives one URL with a fixed number of keep-alive connections and returns requests
per second and the p99 latency, parsed from `wrk --latency`. A Lua snippet can set the method,
body and headers, or vary the request per call.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return found


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if found is None:  # wrk prints no usable latency when nothing was answered
        return float("nan")
    return float(found.group(1)) * _UNITS[found.group(2)]


def _after(pattern: str, out: str) -> str:
    found = re.search(pattern, out, re.MULTILINE)
    return found.group(1) if found else ""


def run_wrk(url: str, *, seconds: int = 10, connections: int = 32, threads: int = 2,
            headers: dict[str, str] | None = None, lua: str | None = None) -> Result:
    args = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua or "")
    args += ["-s", script.name, url]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        Path(script.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(_after(r"^\s+50%\s+(\S+)", out))
    p99 = _ms(_after(r"^\s+99%\s+(\S+)", out))
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return Result(rps, p50, p99, errors)


def post_json_lua(body: str) -> str:
    escaped = body.replace("\\", "\\\\").replace("'", "\\'")
    return (f"wrk.method = 'POST'\nwrk.body = '{escaped}'\n"
            "wrk.headers['Content-Type'] = 'application/json'\n")


def row(label: str, result: Result) -> str:
    flag = f"  ({result.errors} errors)" if result.errors else ""
    return (f"  {label:<52} {result.rps:>10,.0f} req/s   p50 {result.p50_ms:>7.2f} ms"
            f"   p99 {result.p99_ms:>7.2f} ms{flag}")

"""Run the real flagyard server and CLI as subprocesses, the way an operator would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import sqlalchemy as sa


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_database_url(tmp_dir: Path) -> str:
    """A new empty database: SQLite in tmp_dir, or a new PostgreSQL database when
    FLAGYARD_TEST_DATABASE_URL names a server (the suite then runs on PostgreSQL)."""
    admin_url = os.environ.get("FLAGYARD_TEST_DATABASE_URL")
    if not admin_url:
        return f"sqlite:///{tmp_dir / f'flagyard-{uuid.uuid4().hex[:8]}.db'}"
    url = create_postgres_database(admin_url)
    _made_for_tests.append((admin_url, url))
    return url


# PostgreSQL databases made by fresh_database_url, dropped when the test session ends (a run
# makes over a hundred; SQLite files go with pytest's temporary directories).
_made_for_tests: list[tuple[str, str]] = []


def drop_test_databases() -> None:
    """Drop every database fresh_database_url made, even one a server still holds open."""
    while _made_for_tests:
        admin_url, url = _made_for_tests.pop()
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')
        finally:
            engine.dispose()


def create_postgres_database(admin_url: str, prefix: str = "flagyard_test") -> str:
    """A new empty database on the server `admin_url` names; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return engine.url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, database_url: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.make_url(database_url).database}"')
    engine.dispose()


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGYARD_")}
    env["FLAGYARD_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_cli(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "flagyard", *args],
        env=cli_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"flagyard {' '.join(args)} failed: {result.stderr}")
    return result


@dataclass
class Server:
    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(self.database_url, *args, check=check)

    def create_project(self, name: str = "test project") -> str:
        return self.cli("projects", "create", "--name", name).stdout.strip()

    def create_deployment(self, project_id: str, label: str | None = None, type_: str = "server",
                          require_approval: bool = False) -> dict[str, str]:
        label = label or f"deployment-{uuid.uuid4().hex[:6]}"
        args = ["deployments", "create", "--project", project_id, "--label", label, "--type", type_]
        if require_approval:
            args.append("--require-approval")
        return json.loads(self.cli(*args).stdout)

    def create_key(self, name: str = "tester", projects: tuple[str, ...] = (), read_only: bool = False,
                   bypass_approvals: bool = False) -> str:
        args = ["keys", "create", "--name", name]
        for project in projects:
            args += ["--project", project]
        if read_only:
            args.append("--read-only")
        if bypass_approvals:
            args.append("--bypass-approvals")
        return self.cli(*args).stdout.strip()


def wait_until_up(base_url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not come up")


def start_server(database_url: str, *extra_args: str, env: dict[str, str] | None = None,
                 log: int | IO[bytes] = subprocess.DEVNULL) -> Server:
    """A server up and answering; stopping (or killing) it is the caller's business."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "flagyard", "serve", "--port", str(port), *extra_args],
        env=cli_env(database_url, **(env or {})),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return Server(base_url, database_url, process)


@contextmanager
def running_server(database_url: str, *extra_args: str, env: dict[str, str] | None = None,
                   log_path: Path | None = None) -> Iterator[Server]:
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        server = start_server(database_url, *extra_args, env=env, log=log)
    except BaseException:
        if log is not subprocess.DEVNULL:
            log.close()
        raise
    process = server.process
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log is not subprocess.DEVNULL:
            log.close()

"""A throwaway PostgreSQL cluster of a test's own, which the test may stop and start at will.

initdb and pg_ctl come from Debian's packages (/usr/lib/postgresql/<version>/bin). They refuse
to run as root, so as root they run as the `postgres` user, in a directory that user owns.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import free_port

PG_ROOT = Path("/usr/lib/postgresql")


def postgres_bin() -> Path | None:
    versions = sorted((p for p in PG_ROOT.glob("*/bin") if (p / "pg_ctl").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / args[0]), *args[1:]]), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                  "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        """Stop as an operator would for maintenance: sessions are cut, nothing waits."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL's server binaries are not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="flagyard-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        cluster = Cluster(binaries, root / "data", free_port(), root / "postgres.log")
        subprocess.run(_as_postgres([str(binaries / "initdb"), "-D", str(cluster.data), "-U", "postgres",
                                     "--auth=trust", "-E", "UTF8", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        cluster.start()
        try:
            yield cluster
        finally:
            subprocess.run(_as_postgres([str(binaries / "pg_ctl"), "-D", str(cluster.data), "-m",
                                         "immediate", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)

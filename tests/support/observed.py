"""What a server tells about the requests it answered: its metrics and its request log."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.server import Server, fresh_database_url, run_cli, running_server
from tests.support.waiting import wait_for


def requests_counted(server: Server, method: str, route: str, status: int = 200) -> float:
    """`flagyard_http_requests_total` for one method, route template and status."""
    text = httpx.get(server.base_url + "/metrics").text
    found = re.search(rf'^flagyard_http_requests_total\{{method="{method}",route="{re.escape(route)}",'
                      rf'status="{status}"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@dataclass
class LoggingServer:
    server: Server
    deployment_key: str
    log_path: Path

    def entries(self, marker: str, count: int) -> list[dict[str, object]]:
        """The request log's entries whose line holds `marker`, once there are `count` of them."""
        def lines() -> list[dict[str, object]]:
            return [json.loads(line) for line in self.log_path.read_text().splitlines()
                    if line.startswith("{") and marker in line]

        wait_for(lambda: len(lines()) == count)
        return lines()


@contextmanager
def logging_server(tmp_path: Path) -> Iterator[LoggingServer]:
    """A server of its own that writes the request log, with a deployment of one empty project."""
    url = fresh_database_url(tmp_path)
    run_cli(url, "db", "upgrade")
    project = run_cli(url, "projects", "create", "--name", "logged").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                    "--label", "production").stdout)
    log_path = tmp_path / "server.log"
    with running_server(url, env={"FLAGYARD_ACCESS_LOG": "true"}, log_path=log_path) as server:
        yield LoggingServer(server, deployment["key"], log_path)

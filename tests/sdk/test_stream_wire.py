"""The SSE stream on the wire: the flag array first, then keep-alives of a single space."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import Server, fresh_database_url, run_cli, running_server


@pytest.fixture(scope="module")
def quick_keepalive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    url = fresh_database_url(tmp_path_factory.mktemp("stream"))
    project = run_cli(url, "projects", "create", "--name", "stream").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                    "--label", "stream").stdout)
    with running_server(url, env={"FLAGYARD_STREAM_KEEPALIVE_SECONDS": "0.5"}) as server:
        yield server, deployment["key"]


def test_stream__quiet_deployment__array_first_then_space_keepalives(quick_keepalive: tuple[Server, str]) -> None:
    # Given
    server, key = quick_keepalive
    headers = {"Authorization": f"Api-Key {key}"}
    lines: list[str] = []
    started = time.monotonic()
    # When the stream is read for a little over two keep-alive intervals
    with httpx.stream("GET", f"{server.base_url}/sdk/stream/v1/flags", headers=headers, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line:
                lines.append(line)
            if len(lines) >= 3:
                break
    # Then: the full (here empty) flag array, then data events of a single space
    assert lines[0] == "data: []"
    assert lines[1:] == ["data:  ", "data:  "]
    assert time.monotonic() - started < 5

"""Under a server protocol that gives streams no direct wire (uvicorn's h11), a stream still
gets its flags, every change and keep-alives, through ASGI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import cli_env, free_port, fresh_database_url, run_cli, wait_until_up
from tests.support.sse import KEEPALIVE, SseStream


def test_stream_under_h11__first_flags__a_change__keepalives(tmp_path: Path) -> None:
    # Given flagyard run by uvicorn with its h11 protocol, and a deployment with no flags
    url = fresh_database_url(tmp_path)
    project = run_cli(url, "projects", "create", "--name", "h11").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                    "--label", "h11").stdout)
    key = run_cli(url, "keys", "create", "--name", "h11").stdout.strip()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "flagyard.app:app_from_environment", "--factory",
         "--http", "h11", "--port", str(port), "--timeout-graceful-shutdown", "1"],
        env=cli_env(url, FLAGYARD_STREAM_KEEPALIVE_SECONDS="0.3"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, process)

        async def scenario() -> tuple[bytes, list[bytes], bytes]:
            stream = await SseStream.open(base_url, deployment["key"])
            try:
                first = await stream.data()
                # When a flag is added to the deployment and enabled
                manage = {"Authorization": f"Bearer {key}"}
                response = await asyncio.to_thread(httpx.post, f"{base_url}/api/1/flags", json={
                    "projectId": project, "key": "over-h11", "deployments": [deployment["id"]],
                    "evaluationMode": "local"}, headers=manage)
                assert response.status_code == 200, response.text
                response = await asyncio.to_thread(
                    httpx.patch, f"{base_url}/api/1/flags/{response.json()['id']}",
                    json={"enabled": True}, headers=manage)
                assert response.status_code == 200, response.text
                changed = await asyncio.wait_for(stream.data(), 30)
                while b'"over-h11"' not in changed:
                    changed = await asyncio.wait_for(stream.data(), 30)
                # and the stream then stays quiet for a while
                quiet = [await asyncio.wait_for(stream.event(), 10) for _ in range(2)]
                return first, quiet, changed
            finally:
                stream.close()

        first, quiet, changed = asyncio.run(scenario())
    finally:
        process.terminate()
        process.wait(timeout=10)
    # Then: the empty array, the array with the new flag, then keep-alives of a single space
    assert first == b"[]"
    assert [flag["key"] for flag in json.loads(changed)] == ["over-h11"]
    assert quiet == [KEEPALIVE, KEEPALIVE]

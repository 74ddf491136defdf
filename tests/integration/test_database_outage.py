"""The database goes away and comes back, with writers and SDKs busy the whole time.

PostgreSQL: a cluster of the test's own is stopped (`pg_ctl stop -m fast`, sessions cut) and
started again. SDK routes keep answering from the flags they had, management routes answer 503
with Retry-After at once, /ready says not ready, and everything recovers without a restart; no
acknowledged write is lost and a write that got an error left nothing behind.

Runs in the PostgreSQL pass of the suite (FLAGYARD_TEST_DATABASE_URL set), where CI has
installed PostgreSQL's server binaries; the shared server is never touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support.postgres import Cluster, postgres_bin, throwaway_cluster
from tests.support.server import Server, run_cli, running_server
from tests.support.sse import SseStream

pytestmark = pytest.mark.skipif(
    not os.environ.get("FLAGYARD_TEST_DATABASE_URL") or postgres_bin() is None,
    reason="runs in the PostgreSQL pass, with PostgreSQL's server binaries installed",
)


@dataclass
class Setup:
    cluster: Cluster
    server: Server
    project: str
    deployment: dict[str, str]
    key: str

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {self.key}"})

    def sdk(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, timeout=30,
                            headers={"Authorization": f"Api-Key {key or self.deployment['key']}"})


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with throwaway_cluster() as cluster:
        url = cluster.url
        project = run_cli(url, "projects", "create", "--name", "outage").stdout.strip()
        deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                        "--label", "prod").stdout)
        key = run_cli(url, "keys", "create", "--name", "writer").stdout.strip()
        with running_server(url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
            yield Setup(cluster, server, project, deployment, key)


@dataclass
class Writer:
    """Appends inclusions one id at a time and remembers which writes were acknowledged."""

    setup: Setup
    flag_id: str
    acknowledged: list[str] = field(default_factory=list)
    refused: list[tuple[str, int, str, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with self.setup.api() as api:
            n = 0
            while not self.stop.is_set():
                tag = f"user-{n}"
                n += 1
                try:
                    r = api.post(f"/api/1/flags/{self.flag_id}/variants/on/users", json={"inclusions": [tag]})
                except httpx.TransportError:
                    self.refused.append((tag, 0, "transport", None))
                    continue
                if r.status_code == 200:
                    self.acknowledged.append(tag)
                else:
                    self.refused.append((tag, r.status_code, r.text, r.headers.get("retry-after")))
                    time.sleep(0.05)


def test_postgres_stopped_and_started__sdk_serves_on__management_503__recovers(setup: Setup) -> None:
    # Given a served, enabled flag, an SDK that has fetched it, and a writer busy on the flag
    with setup.api() as api:
        flag_id = api.post("/api/1/flags", json={
            "projectId": setup.project, "key": "survivor", "evaluationMode": "local",
            "deployments": [setup.deployment["id"]], "rolloutPercentage": 100}).json()["id"]
        api.patch(f"/api/1/flags/{flag_id}", json={"enabled": True}).raise_for_status()
    with setup.sdk() as sdk:
        wait_for(lambda: "survivor" in sdk.get("/sdk/v2/flags").text, "the flag is served")
        flags_before = sdk.get("/sdk/v2/flags").content
        variant_before = sdk.post("/sdk/v2/vardata", json={"user_id": "u1"}).json()["survivor"]
    assert variant_before["key"] == "on"
    with setup.api() as api:  # the writer works on a flag of its own, not served here
        written_id = api.post("/api/1/flags", json={"projectId": setup.project, "key": "written"}).json()["id"]
    writer = Writer(setup, written_id)
    writing = threading.Thread(target=writer.run)
    writing.start()
    wait_for(lambda: len(writer.acknowledged) >= 5, "writes are acknowledged")

    # When PostgreSQL stops
    setup.cluster.stop()
    try:
        # Then SDK routes answer from the flags they had
        with setup.sdk() as sdk:
            for _ in range(5):
                assert sdk.get("/sdk/v2/flags").content == flags_before
                assert sdk.post("/sdk/v2/vardata", json={"user_id": "u1"}).json()["survivor"] == variant_before
        # management routes answer 503 with Retry-After within a second or two, never a 500
        with setup.api() as api:
            for path in ("/api/1/flags", f"/api/1/flags/{flag_id}"):
                started = time.monotonic()
                answer = api.get(path)
                assert time.monotonic() - started < 2.5
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"]["code"] == "database_unavailable"
                assert int(answer.headers["retry-after"]) >= 1
        # a deployment key this process never saw cannot be checked: 503, not 401 or 500
        with setup.sdk("server-never-seen-before") as stranger:
            assert stranger.get("/sdk/v2/flags").status_code == 503
        # and /ready says not ready
        ready = httpx.get(f"{setup.server.base_url}/ready", timeout=10)
        assert ready.status_code == 503
        time.sleep(0.5)  # the writer keeps trying meanwhile
    finally:
        # When PostgreSQL comes back
        setup.cluster.start()

    # Then the process recovers by itself: ready, writes acknowledged again
    wait_for(lambda: httpx.get(f"{setup.server.base_url}/ready", timeout=10).status_code == 200, "ready again")
    acknowledged_before = len(writer.acknowledged)
    wait_for(lambda: len(writer.acknowledged) > acknowledged_before + 3, "writes go through again")
    writer.stop.set()
    writing.join(timeout=30)

    # every refused write was a 503 with Retry-After (or a cut connection), never a 500
    assert writer.refused, "the outage refused some writes"
    assert {status for _, status, _, _ in writer.refused} <= {503}, writer.refused[:3]
    assert all(retry_after for _, _, _, retry_after in writer.refused)
    # no acknowledged write is lost, and a refused write left nothing behind
    with setup.api() as api:
        users = api.get(f"/api/1/flags/{written_id}/variants/on/users").json()
        versions = api.get(f"/api/1/flags/{written_id}/versions").json()
    assert sorted(users) == sorted(writer.acknowledged)
    assert len(versions) == 1 + len(writer.acknowledged)

    # and a change made now reaches the SDK route and an open stream (the feed reconnected)
    async def change_reaches_stream() -> bytes:
        stream = await SseStream.open(setup.server.base_url, setup.deployment["key"])
        try:
            first = await stream.data()
            with setup.api() as api:
                changed = await asyncio.to_thread(api.patch, f"/api/1/flags/{flag_id}",
                                                  json={"rolloutPercentage": 0})
            assert changed.status_code == 200, changed.text
            after = await asyncio.wait_for(stream.data(), 10)
            assert after != first
            return after
        finally:
            stream.close()

    pushed = asyncio.run(change_reaches_stream())
    with setup.sdk() as sdk:
        assert sdk.post("/sdk/v2/vardata", json={"user_id": "u1"}).json()["survivor"]["key"] == "off"
        assert json.loads(sdk.get("/sdk/v2/flags").content) == json.loads(pushed)


def test_postgres_restarted_while_quiet__first_requests_after__succeed(setup: Setup) -> None:
    # Given a process whose pooled connections have all been used
    with setup.api() as api:
        flag_id = api.post("/api/1/flags", json={"projectId": setup.project, "key": "quiet-restart"}).json()["id"]
        for _ in range(20):
            assert api.get("/api/1/flags", params={"limit": 1}).status_code == 200
    # When PostgreSQL restarts while nothing is asking (every pooled connection now dead)
    setup.cluster.stop()
    setup.cluster.start()
    time.sleep(1.2)  # longer than a pooled connection stays trusted without a check
    # Then the very first reads and writes succeed: dead connections are found before use
    with setup.api() as api:
        assert api.get(f"/api/1/flags/{flag_id}").status_code == 200
        assert api.patch(f"/api/1/flags/{flag_id}", json={"description": "after"}).status_code == 200
        assert [api.get("/api/1/flags", params={"limit": 1}).status_code for _ in range(20)] == [200] * 20


def wait_for(condition: object, what: str, timeout: float = 30) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)

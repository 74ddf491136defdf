"""Two flagyard processes on one database: no lost or duplicated write, fresh evaluation.

Runs on SQLite, and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL is set (scripts/test does
both), the way a team runs flagyard behind a load balancer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa

from flagyard.store.db import make_engine
from tests.support.server import Server, fresh_database_url, run_cli, running_server
from tests.support.sse import SseStream


@dataclass
class Cluster:
    a: Server
    b: Server
    project: str
    deployment: dict[str, str]
    key: str
    url: str

    def client(self, server: Server) -> httpx.Client:
        return httpx.Client(base_url=server.base_url, timeout=60,
                            headers={"Authorization": f"Bearer {self.key}"})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    url = fresh_database_url(tmp_path_factory.mktemp("cluster"))
    project = run_cli(url, "projects", "create", "--name", "cluster").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                    "--label", "prod").stdout)
    key = run_cli(url, "keys", "create", "--name", "writer").stdout.strip()
    with running_server(url) as a, running_server(url) as b:
        yield Cluster(a, b, project, deployment, key, url)


def test_same_uploads_through_two_processes_at_once__each_insert_id_stored_once(cluster: Cluster) -> None:
    # Given 20 uploads of 50 events, each event with an insert id of its own
    uploads = [{"api_key": cluster.deployment["key"], "events": [
        {"event_type": "pay", "user_id": f"twice-{n}", "device_id": f"device-{n}", "insert_id": f"twice-{u}-{n}",
         "time": 1_700_000_000_000 + n} for n in range(50)]} for u in range(20)]
    sends = [(server, upload) for upload in uploads for server in (cluster.a, cluster.b)]

    # When every upload is sent to both processes at the same time
    def send(target: tuple[Server, dict[str, object]]) -> int:
        return httpx.post(target[0].base_url + "/2/httpapi", json=target[1], timeout=60).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, sends))

    # Then both processes acknowledged every upload, and each insert id is stored once
    assert set(statuses) == {200}
    engine = make_engine(cluster.url)
    try:
        with engine.connect() as connection:
            stored, distinct = connection.execute(sa.text(
                "SELECT count(*), count(DISTINCT dedup_key) FROM events WHERE project_id = :p AND user_key LIKE :u"),
                {"p": int(cluster.project), "u": "twice-%"}).one()
    finally:
        engine.dispose()
    assert (stored, distinct) == (1000, 1000)


def test_concurrent_writes_through_two_processes__every_acknowledged_write_kept__versions_1_to_n(
    cluster: Cluster,
) -> None:
    # Given one flag, and 8 writers alternating between the two processes
    with cluster.client(cluster.a) as api:
        flag_id = api.post("/api/1/flags", json={"projectId": cluster.project, "key": "hammered"}).json()["id"]
    clients = [cluster.client(cluster.a), cluster.client(cluster.b)]

    def writer(worker: int) -> list[tuple[str, str, int]]:
        done = []
        for step in range(12):
            api = clients[(worker + step) % 2]
            kind = ("describe", "include", "variant")[step % 3]
            tag = f"w{worker}s{step}"
            if kind == "describe":
                r = api.patch(f"/api/1/flags/{flag_id}", json={"description": tag})
            elif kind == "include":
                r = api.post(f"/api/1/flags/{flag_id}/variants/on/users", json={"inclusions": [tag]})
            else:
                r = api.post(f"/api/1/flags/{flag_id}/variants", json={"key": tag})
            done.append((kind, tag, r.status_code))
        return done

    # When
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [item for batch in pool.map(writer, range(8)) for item in batch]
    for client in clients:
        client.close()

    # Then every write was acknowledged and is reflected in the final state
    assert {status for _, _, status in results} == {200}, results
    with cluster.client(cluster.b) as api:
        flag = api.get(f"/api/1/flags/{flag_id}").json()
        users = api.get(f"/api/1/flags/{flag_id}/variants/on/users").json()
        versions = api.get(f"/api/1/flags/{flag_id}/versions").json()
    assert {tag for kind, tag, _ in results if kind == "include"} == set(users)
    assert {tag for kind, tag, _ in results if kind == "variant"} <= {v["key"] for v in flag["variants"]}
    assert flag["description"] in {tag for kind, tag, _ in results if kind == "describe"}
    # and the history holds one version per write, numbered 1..N with no gap or duplicate
    numbers = sorted(v["version"] for v in versions)
    assert numbers == list(range(1, len(results) + 2))
    assert versions[0]["flagConfig"] == flag


def test_same_key_created_through_both_processes_at_once__one_200_one_409(cluster: Cluster) -> None:
    for attempt in range(10):
        # Given
        body = {"projectId": cluster.project, "key": f"race-{attempt}"}
        clients = [cluster.client(cluster.a), cluster.client(cluster.b)]
        # When
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(lambda c, b=body: c.post("/api/1/flags", json=b).status_code, clients))
        # Then
        assert statuses == [200, 409]
        listed = clients[0].get("/api/1/flags", params={"key": body["key"]}).json()["flags"]
        assert len(listed) == 1
        for client in clients:
            client.close()


def test_write_through_one_process__other_process_serves_it_within_a_second(cluster: Cluster) -> None:
    # Given an enabled flag, served by process B
    sdk_headers = {"Authorization": f"Api-Key {cluster.deployment['key']}"}
    with cluster.client(cluster.a) as api, httpx.Client(base_url=cluster.b.base_url, headers=sdk_headers) as sdk:
        flag_id = api.post("/api/1/flags", json={
            "projectId": cluster.project, "key": "propagated", "evaluationMode": "local",
            "deployments": [cluster.deployment["id"]]}).json()["id"]
        api.patch(f"/api/1/flags/{flag_id}", json={"enabled": True}).raise_for_status()
        deadline = time.monotonic() + 5
        while "propagated" not in sdk.get("/sdk/v2/flags").text and time.monotonic() < deadline:
            time.sleep(0.02)
        before = sdk.get("/sdk/v2/flags").text
        assert '"rolloutPercentage"' not in before and "propagated" in before
        # When the flag changes through process A
        api.patch(f"/api/1/flags/{flag_id}", json={"rolloutPercentage": 100}).raise_for_status()
        changed_at = time.monotonic()
        # Then process B serves the new config within a second
        while sdk.get("/sdk/v2/flags").text == before:
            assert time.monotonic() - changed_at < 1.0
            time.sleep(0.01)


def test_edit_through_one_process__other_process_lists_it_on_its_next_request(cluster: Cluster) -> None:
    # Given a flag that process B has already listed (so B holds its rendering)
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        flag_id = a.post("/api/1/flags", json={"projectId": cluster.project, "key": "listed-twice",
                                               "variants": [{"key": "on"}]}).json()["id"]

        def listed() -> dict[str, object]:
            page = b.get("/api/1/flags", params={"key": "listed-twice"}).json()["flags"]
            got = b.get("/api/1/flags", params={"limit": 1000}).json()["flags"]
            entry = next(flag for flag in got if flag["id"] == flag_id)
            assert page == [entry]
            return entry

        assert listed()["name"] == "listed-twice"
        # When process A renames it and edits a variant's payload
        a.patch(f"/api/1/flags/{flag_id}", json={"name": "renamed"}).raise_for_status()
        a.patch(f"/api/1/flags/{flag_id}/variants/on", json={"payload": {"n": 2}}).raise_for_status()
        # Then B's very next list shows both, exactly as B's GET of the flag does
        entry = listed()
        assert entry["name"] == "renamed" and entry["variants"] == [
            {"key": "on", "name": "", "description": "", "payload": {"n": 2}, "rolloutWeight": 1}]
        assert entry == b.get(f"/api/1/flags/{flag_id}").json()


def test_write_through_one_process__other_process_pushes_it_on_its_open_streams(cluster: Cluster) -> None:
    # Given streams open on process B. Snapshots are only re-checked when the change feed says
    # so (no timer), so B can learn of A's write only from the database's change feed.
    sdk_headers = {"Authorization": f"Api-Key {cluster.deployment['key']}"}
    with cluster.client(cluster.a) as api, httpx.Client(base_url=cluster.b.base_url, headers=sdk_headers) as sdk:
        flag_id = api.post("/api/1/flags", json={
            "projectId": cluster.project, "key": "pushed", "evaluationMode": "local",
            "deployments": [cluster.deployment["id"]]}).json()["id"]
        api.patch(f"/api/1/flags/{flag_id}", json={"enabled": True}).raise_for_status()

        async def scenario() -> tuple[list[bytes], list[bytes], str]:
            streams = [await SseStream.open(cluster.b.base_url, cluster.deployment["key"]) for _ in range(5)]
            try:
                firsts = [await s.data() for s in streams]
                while any(b'"pushed"' not in first for first in firsts):
                    firsts = [await s.data() if b'"pushed"' not in f else f for s, f in zip(streams, firsts, strict=True)]
                # When the flag changes through process A
                changed = await asyncio.to_thread(api.patch, f"/api/1/flags/{flag_id}",
                                                  json={"rolloutPercentage": 100})
                assert changed.status_code == 200, changed.text
                nexts = await asyncio.wait_for(asyncio.gather(*(s.data() for s in streams)), 10)
                served = await asyncio.to_thread(lambda: sdk.get("/sdk/v2/flags").text)
                return firsts, nexts, served
            finally:
                for stream in streams:
                    stream.close()

        firsts, nexts, served = asyncio.run(scenario())
    # Then B pushed the new flags to every stream, and serves them on its SDK route
    assert all(first != after for first, after in zip(firsts, nexts, strict=True))
    assert len(set(nexts)) == 1
    assert json.loads(served) == json.loads(nexts[0])

"""Many open streams on one deployment: one change reaches every one of them, and streams of an
archived deployment end."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.sdk.conftest import create, enable
from tests.support.server import Server
from tests.support.sse import SseStream

STREAMS = 300


async def _open_all(base_url: str, key: str, count: int) -> list[SseStream]:
    streams: list[SseStream] = []
    for start in range(0, count, 50):  # a few at a time, as clients would arrive
        streams += await asyncio.gather(*(SseStream.open(base_url, key) for _ in range(start, min(count, start + 50))))
    return streams


def _keys(event: bytes) -> dict[str, dict[str, object]]:
    return {flag["key"]: flag for flag in json.loads(event)}


def test_three_hundred_streams__one_change__every_stream_receives_the_new_flags(
    server: Server, manage: httpx.Client, sdk_project: str,
) -> None:
    # Given 300 streams open on one deployment that serves one local flag
    deployment = server.create_deployment(sdk_project, "broadcast")
    flag_id = create(manage, "flags", {"projectId": sdk_project, "key": "broadcast-flag",
                                       "deployments": [deployment["id"]], "evaluationMode": "local"})
    enable(manage, "flags", flag_id)

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        streams = await _open_all(server.base_url, deployment["key"], STREAMS)
        try:
            firsts = await asyncio.gather(*(s.data() for s in streams))
            # When the flag changes once through the management API
            response = await asyncio.to_thread(
                manage.patch, f"/api/1/flags/{flag_id}", json={"rolloutPercentage": 30})
            assert response.status_code == 200, response.text
            # Then every stream gets the new array as its next data event
            nexts = await asyncio.wait_for(asyncio.gather(*(s.data() for s in streams)), 60)
            return firsts, nexts
        finally:
            for stream in streams:
                stream.close()

    firsts, nexts = asyncio.run(scenario())
    assert len(set(firsts)) == 1 and "broadcast-flag" in _keys(firsts[0])
    assert len(nexts) == STREAMS and len(set(nexts)) == 1
    before, after = _keys(firsts[0])["broadcast-flag"], _keys(nexts[0])["broadcast-flag"]
    assert before != after
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"Api-Key {deployment['key']}"}) as sdk:
        assert _keys(sdk.get("/sdk/v2/flags").content)["broadcast-flag"] == after


def test_stream__deployment_archived__stream_ends(server: Server, manage: httpx.Client, sdk_project: str) -> None:
    # Given a stream open on a deployment no flag uses
    deployment = server.create_deployment(sdk_project, "to-archive")

    async def scenario() -> None:
        stream = await SseStream.open(server.base_url, deployment["key"])
        try:
            assert await stream.data() == b"[]"
            # When the deployment is archived
            response = await asyncio.to_thread(
                manage.patch, f"/api/1/deployments/{deployment['id']}", json={"archive": True})
            assert response.status_code == 200, response.text
            # Then the stream ends instead of serving a key that no longer opens anything
            while True:
                try:
                    await asyncio.wait_for(stream.event(), 30)
                except EOFError:
                    return
        finally:
            stream.close()

    asyncio.run(scenario())
    answer = httpx.get(f"{server.base_url}/sdk/v2/flags",
                       headers={"Authorization": f"Api-Key {deployment['key']}"})
    assert answer.status_code == 401

"""A stream whose client stops reading: the others keep getting every change, and when it reads
again it gets whole events ending with the latest flags, not every change it missed."""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import urlsplit

import httpx

from tests.sdk.conftest import create, enable
from tests.support.server import Server
from tests.support.sse import KEEPALIVE, SseStream

CHANGES = 40
BLOB = "x" * 60_000  # a payload near the 64 KiB limit: each event is about 120 KB


async def _open_unread(base_url: str, key: str) -> tuple[SseStream, socket.socket]:
    """A stream with a small receive buffer, so the server's side backs up while nobody reads."""
    parts = urlsplit(base_url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET /sdk/stream/v1/flags HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                 f"Authorization: Api-Key {key}\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    return SseStream(reader, writer), sock


def test_stream__client_stops_reading__others_unaffected__it_catches_up_to_the_latest(
    server: Server, manage: httpx.Client, sdk_project: str,
) -> None:
    # Given two large local flags on a deployment, one stream that reads and one that does not
    deployment = server.create_deployment(sdk_project, "backpressure")
    flag_ids = [create(manage, "flags", {
        "projectId": sdk_project, "key": f"heavy-{n}", "deployments": [deployment["id"]],
        "evaluationMode": "local", "variants": [{"key": "on", "payload": {"blob": BLOB}}]})
        for n in range(2)]
    for flag_id in flag_ids:
        enable(manage, "flags", flag_id)

    async def scenario() -> tuple[list[bytes], list[bytes], bytes]:
        reading = await SseStream.open(server.base_url, deployment["key"])
        unread, _ = await _open_unread(server.base_url, deployment["key"])
        try:
            await reading.data()
            seen: list[bytes] = []
            # When the flags change many times while the second client reads nothing
            for n in range(CHANGES):
                response = await asyncio.to_thread(
                    manage.patch, f"/api/1/flags/{flag_ids[0]}", json={"rolloutPercentage": n + 1})
                assert response.status_code == 200, response.text
                seen.append(await asyncio.wait_for(reading.data(), 30))
            final = (await asyncio.to_thread(
                httpx.get, f"{server.base_url}/sdk/v2/flags",
                headers={"Authorization": f"Api-Key {deployment['key']}"})).content
            # Then, reading again, it gets whole events until it has the latest flags
            caught_up: list[bytes] = []
            while not caught_up or caught_up[-1] != final:
                event = await asyncio.wait_for(unread.event(), 30)
                if event != KEEPALIVE:
                    caught_up.append(event)
            return seen, caught_up, final
        finally:
            reading.close()
            unread.close()

    seen, caught_up, final = asyncio.run(scenario())
    # the reading stream had every change, each as it happened
    assert len(seen) == CHANGES and len(set(seen)) == CHANGES
    assert seen[-1] == final
    # the other got valid events only (each parses whole) and ends on the latest, skipping some:
    # a backed-up stream is sent the newest flags, not a queue of every version
    assert all(json.loads(event) for event in caught_up)
    assert caught_up[-1] == final
    assert len(caught_up) < CHANGES + 1

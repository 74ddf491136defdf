"""SSE streams fed by one broadcaster per deployment, not by a poll per connection.

A connection registers with the broadcaster of its deployment (and body: local flags, or every
flag with `eval_mode=remote`) and then sleeps. When the propagator reports that a deployment's
snapshot changed, its broadcaster serialises the `data:` frame once and wakes its connections;
each writes those same bytes. Keep-alives come from one timer for the whole process.

A connection costs one sleeping request task plus one task waiting for the client to hang up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from starlette.types import Receive, Send

from flagyard.services.snapshots import FlagsBody, Snapshot

KEEPALIVE_FRAME = b"data:  \n\n"  # data of a single space, as Amplitude sends
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class _Connection:
    __slots__ = ("closed", "keepalive", "wake")

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.keepalive = False
        self.closed = False

    def hang_up(self, _: Any = None) -> None:
        self.closed = True
        self.wake.set()


class Broadcaster:
    """The open streams of one deployment key and one kind of body."""

    def __init__(self, snapshot: Snapshot, remote: bool) -> None:
        self.remote = remote
        self.connections: set[_Connection] = set()
        self.gone = False  # the key was archived: streams end
        self.revision = -1
        self.etag = ""
        self.frame = b""
        self.offer(snapshot)

    def offer(self, snapshot: Snapshot) -> bool:
        """Take a newer snapshot; True if its body differs from the one being served."""
        if snapshot.revision < self.revision:
            return False
        self.revision = snapshot.revision
        body: FlagsBody = snapshot.everything if self.remote else snapshot.local
        if body.etag == self.etag:
            return False
        self.etag = body.etag
        self.frame = b"data: " + body.body + b"\n\n"
        return True

    def wake_all(self, *, keepalive: bool = False) -> None:
        for connection in self.connections:
            if keepalive:
                connection.keepalive = True
            connection.wake.set()


class StreamHub:
    """Every broadcaster of this process, and the one keep-alive timer."""

    def __init__(self, current: Callable[[str], Snapshot | None], keepalive_seconds: float) -> None:
        self._current = current  # the snapshot the evaluation service holds for a key
        self._keepalive_seconds = keepalive_seconds
        self._broadcasters: dict[tuple[str, bool], Broadcaster] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.Task[None] | None = None

    @property
    def streams(self) -> int:
        return sum(len(b.connections) for b in self._broadcasters.values())

    # --- from the propagator's thread -----------------------------------------------------

    def deployments_changed(self, keys: frozenset[str]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._publish, keys)

    # --- on the event loop ----------------------------------------------------------------

    def _publish(self, keys: frozenset[str]) -> None:
        for (key, _), broadcaster in list(self._broadcasters.items()):
            if key not in keys:
                continue
            snapshot = self._current(key)
            if snapshot is None:
                broadcaster.gone = True
                broadcaster.wake_all()
            elif broadcaster.offer(snapshot):
                broadcaster.wake_all()

    async def _keepalives(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_seconds)
            for broadcaster in list(self._broadcasters.values()):
                broadcaster.wake_all(keepalive=True)

    def _join(self, key: str, remote: bool, snapshot: Snapshot, connection: _Connection) -> Broadcaster:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        if self._timer is None or self._timer.done():
            self._timer = asyncio.ensure_future(self._keepalives())
        broadcaster = self._broadcasters.get((key, remote))
        if broadcaster is None:
            broadcaster = self._broadcasters[(key, remote)] = Broadcaster(snapshot, remote)
        elif broadcaster.offer(snapshot):
            broadcaster.wake_all()  # this request saw a newer snapshot than the others have
        broadcaster.connections.add(connection)
        return broadcaster

    def _leave(self, key: str, remote: bool, connection: _Connection) -> None:
        broadcaster = self._broadcasters.get((key, remote))
        if broadcaster is None:
            return
        broadcaster.connections.discard(connection)
        if not broadcaster.connections:
            del self._broadcasters[(key, remote)]

    async def serve(self, key: str, remote: bool, snapshot: Snapshot,
                    receive: Receive, send: Send) -> None:
        """Run one SSE connection until the client hangs up or the key stops being valid."""
        connection = _Connection()
        broadcaster = self._join(key, remote, snapshot, connection)
        hang_up = asyncio.ensure_future(_until_disconnect(receive))
        hang_up.add_done_callback(connection.hang_up)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            sent = ""
            while not connection.closed and not broadcaster.gone:
                connection.wake.clear()
                if broadcaster.etag != sent:
                    sent = broadcaster.etag
                    connection.keepalive = False
                    await send({"type": "http.response.body", "body": broadcaster.frame, "more_body": True})
                elif connection.keepalive:
                    connection.keepalive = False
                    await send({"type": "http.response.body", "body": KEEPALIVE_FRAME, "more_body": True})
                else:
                    await connection.wake.wait()
            if not connection.closed:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self._leave(key, remote, connection)
            hang_up.cancel()

    async def close(self) -> None:
        for broadcaster in list(self._broadcasters.values()):
            broadcaster.gone = True
            broadcaster.wake_all()
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass

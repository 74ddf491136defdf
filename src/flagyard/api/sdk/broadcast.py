"""SSE streams fed by one broadcaster per deployment, not by a poll per connection.

A connection registers with the broadcaster of its deployment (and body: local flags, or every
flag with `eval_mode=remote`), sends its headers and the current flags through ASGI, and then
sleeps. When the propagator reports that a deployment's snapshot changed, its broadcaster frames
the `data:` event as one HTTP chunk, once, and writes those same bytes to every connection's
transport in one loop (`stream_wire.py`): the chunk's head, the snapshot's own body and the
tail as separate buffers, since copying a 7 MB body (10,000 flags) into a frame and again into
a chunk cost each propagation round milliseconds of the event loop's time. Keep-alives, from
one timer for the whole process, take the same path. A connection whose socket is backed up (over the transport's high-water
mark), or whose server gives no direct wire, is woken instead and writes the latest flags itself
through ASGI, which waits for the socket to drain; then it hands the writing back.

A connection costs one sleeping request task plus one task waiting for the client to hang up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from starlette.types import Receive, Scope, Send

from flagyard.api.sdk.stream_wire import Wire, chunk
from flagyard.serve.snapshots import FlagsBody, Snapshot

KEEPALIVE_FRAME = b"data:  \n\n"  # data of a single space, as Amplitude sends
KEEPALIVE_CHUNK = (chunk(KEEPALIVE_FRAME),)
_FRAME_START, _FRAME_END = b"data: ", b"\n\n"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class _Connection:
    __slots__ = ("closed", "keepalive", "own_turn", "wake", "wire")

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.keepalive = False
        self.closed = False
        self.wire: Wire | None = None
        # True while the connection's task writes for itself (before its first event, while
        # its socket is backed up, or without a wire); the broadcaster then only wakes it.
        self.own_turn = True

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
        self.sequence = 0  # counts the frames served, so a connection knows it is behind
        self._body = b""
        self._frame: bytes | None = None
        self.chunk: tuple[bytes, ...] = ()  # the event as an HTTP chunk, in parts (see above)
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
        self.sequence += 1
        self._body = body.body
        self._frame = None
        size = len(_FRAME_START) + len(body.body) + len(_FRAME_END)
        self.chunk = (b"%x\r\n%b" % (size, _FRAME_START), body.body, _FRAME_END + b"\r\n")
        return True

    @property
    def frame(self) -> bytes:
        """The event whole, for a connection that writes it through ASGI itself (made on demand:
        most connections never need it)."""
        if self._frame is None:
            self._frame = _FRAME_START + self._body + _FRAME_END
        return self._frame

    def deliver(self, parts: tuple[bytes, ...], *, keepalive: bool = False) -> None:
        """Write `parts` (one framed chunk) to every connection that can take it now; wake the rest."""
        for connection in self.connections:
            wire = connection.wire
            if not connection.own_turn and wire is not None:
                if wire.ready:
                    wire.transport.writelines(parts)
                    continue
                if keepalive:
                    continue  # a backed-up socket needs no keep-alive
                connection.own_turn = True
            elif keepalive:
                connection.keepalive = True
            connection.wake.set()

    def wake_all(self) -> None:
        for connection in self.connections:
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
                broadcaster.deliver(broadcaster.chunk)

    async def _keepalives(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_seconds)
            for broadcaster in list(self._broadcasters.values()):
                if not broadcaster.gone:
                    broadcaster.deliver(KEEPALIVE_CHUNK, keepalive=True)

    def _join(self, key: str, remote: bool, snapshot: Snapshot, connection: _Connection) -> Broadcaster:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        if self._timer is None or self._timer.done():
            self._timer = asyncio.ensure_future(self._keepalives())
        broadcaster = self._broadcasters.get((key, remote))
        if broadcaster is None:
            broadcaster = self._broadcasters[(key, remote)] = Broadcaster(snapshot, remote)
        elif broadcaster.offer(snapshot):
            broadcaster.deliver(broadcaster.chunk)  # this request saw a newer snapshot than the others
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
                    scope: Scope, receive: Receive, send: Send) -> None:
        """Run one SSE connection until the client hangs up or the key stops being valid."""
        connection = _Connection()
        broadcaster = self._join(key, remote, snapshot, connection)
        hang_up = asyncio.ensure_future(_until_disconnect(receive))
        hang_up.add_done_callback(connection.hang_up)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            connection.wire = Wire.of(scope)
            sent = 0
            while not connection.closed and not broadcaster.gone:
                connection.wake.clear()
                if broadcaster.sequence != sent:
                    sent = broadcaster.sequence
                    connection.keepalive = False
                    await send({"type": "http.response.body", "body": broadcaster.frame, "more_body": True})
                elif connection.keepalive:
                    connection.keepalive = False
                    await send({"type": "http.response.body", "body": KEEPALIVE_FRAME, "more_body": True})
                elif connection.own_turn and connection.wire is not None:
                    # In step with the broadcaster: it writes to this connection from now on.
                    connection.own_turn = False
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

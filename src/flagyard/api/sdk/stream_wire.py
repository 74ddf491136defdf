"""An SDK stream's own HTTP connection, so a broadcaster can write a change to it directly.

Handing one change to 10,000 streams through ASGI meant waking 10,000 request tasks, each
passing its bytes down the whole middleware chain to the server: about 50 µs of CPU per stream,
two thirds of it Python. The outermost layer of the app (`StreamingApp`) keeps the server's own
`send` for stream requests; once a stream has sent its headers through the ordinary ASGI path,
`Wire.of` finds uvicorn's connection behind that `send` and, when the response is chunked,
lets the broadcaster write an already-framed chunk to its transport in one loop.

Under any other server (or uvicorn's h11 protocol) there is no wire and the stream writes
through ASGI as before.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

STREAM_PATH = "/sdk/stream/v1/flags"
SERVER_SEND = "flagyard.server_send"


def chunk(data: bytes) -> bytes:
    """`data` framed as one HTTP/1.1 chunk."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class Wire:
    """The transport of one chunked response, and whether it can take more bytes now."""

    __slots__ = ("_connection", "_flow", "transport")

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._flow = connection.flow
        self.transport = connection.transport

    @classmethod
    def of(cls, scope: Scope) -> Wire | None:
        """The wire under this stream's response, once its headers went out; None if unknown."""
        connection = getattr(scope.get(SERVER_SEND), "__self__", None)
        # uvicorn's httptools protocol: one RequestResponseCycle per request.
        if (connection is None or getattr(connection, "chunked_encoding", None) is not True
                or not hasattr(connection, "transport") or not hasattr(connection, "flow")
                or not getattr(connection, "response_started", False)):
            return None
        return cls(connection)

    @property
    def ready(self) -> bool:
        """True when bytes written now go straight out (not closing, not over the high-water mark)."""
        return not (self._flow.write_paused or self._connection.disconnected
                    or self.transport.is_closing())


class StreamingApp(FastAPI):
    """FastAPI whose outermost layer keeps the server's `send` for SDK stream requests."""

    def build_middleware_stack(self) -> ASGIApp:
        return _KeepServerSend(super().build_middleware_stack())


class _KeepServerSend:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == STREAM_PATH:
            scope[SERVER_SEND] = send
        await self.app(scope, receive, send)

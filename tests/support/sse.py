"""A small asyncio SSE reader for many streams at once (hundreds in tests, thousands in
benchmarks), over one raw socket each: an HTTP/1.1 GET, a chunked body, `data:` events."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

KEEPALIVE = b" "


class SseStream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._buffer = b""
        self.ended = False

    @classmethod
    async def open(cls, base_url: str, deployment_key: str, *,
                   path: str = "/sdk/stream/v1/flags") -> SseStream:
        parts = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n"
            f"Authorization: Api-Key {deployment_key}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            writer.close()
            raise RuntimeError(f"stream answered {status}")
        return cls(reader, writer)

    async def event(self) -> bytes:
        """The next event's data (a keep-alive is b" "); raises EOFError when the stream ends."""
        while b"\n\n" not in self._buffer:
            await self._read_chunk()
        event, _, self._buffer = self._buffer.partition(b"\n\n")
        if not event.startswith(b"data: "):
            raise ValueError(f"not an SSE data event: {event[:80]!r}")
        return event[len(b"data: "):]

    async def data(self) -> bytes:
        """The next event that is not a keep-alive."""
        while (event := await self.event()) == KEEPALIVE:
            pass
        return event

    async def _read_chunk(self) -> None:
        size_line = await self._reader.readline()
        if not size_line:
            self.ended = True
            raise EOFError("the server closed the stream")
        size = int(size_line.strip(), 16)
        chunk = await self._reader.readexactly(size + 2)
        if size == 0:
            self.ended = True
            raise EOFError("the stream ended")
        self._buffer += chunk[:-2]

    def close(self) -> None:
        self._writer.close()

"""uvicorn's httptools protocol, letting the app answer a request once its headers are parsed.

`flagyard serve` runs uvicorn with this protocol. For each request that arrives on a quiet
keep-alive HTTP/1.1 connection (no response of an earlier request still being written, no
pipelined request waiting, the client reading), it asks the app's `early_answers`
(`app.state.early_answers`) first; an answer there is written to the transport at once and the
request never becomes an ASGI call. Every other request goes through ASGI unchanged, as does
every request under another server (tests in process, the h11 protocol): the early answer is a
shortcut to the same response, never the only way to one.

A request with a (small, declared) body can be answered too: `answer` says `READ_BODY`, the
protocol keeps the body as it arrives, and once the request is complete asks
`answer_with_body`. Declined then, the request is handed to uvicorn as if just parsed: headers,
body and end, in that order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState


class ReadBody:
    """`EarlyAnswers.answer`'s "ask me again with the body"."""


READ_BODY = ReadBody()
Headers = Sequence[tuple[bytes, bytes]]


class EarlyAnswers(Protocol):
    def answer(self, method: bytes, target: bytes, headers: Headers,
               server_headers: Headers) -> list[bytes] | ReadBody | None:
        """The whole response's bytes, None to let the request take the ordinary route, or
        READ_BODY to be asked again (`answer_with_body`) once the body is in."""

    def answer_with_body(self, method: bytes, target: bytes, headers: Headers, body: bytes,
                         server_headers: Headers) -> list[bytes] | None:
        """The whole response's bytes, or None for the ordinary route."""


class _Answered:
    """Stands for the request answered early where uvicorn expects its request cycle: complete,
    so the parser's later callbacks for it (the end of the message) have nothing to do."""

    response_complete = True
    disconnected = False

    class message_event:  # noqa: N801 - the attribute uvicorn sets when a connection drops
        @staticmethod
        def set() -> None:
            return None


def early_answers_of(app: Any) -> EarlyAnswers | None:
    """The app's early answers, under whatever middleware uvicorn wrapped around it."""
    for _ in range(8):
        if app is None:
            return None
        found = getattr(getattr(app, "state", None), "early_answers", None)
        if found is not None:
            return found
        app = getattr(app, "app", None)
    return None


class AnsweringProtocol(HttpToolsProtocol):
    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._early = early_answers_of(self.app)
        self._body: list[bytes] | None = None  # the held request's body, while it arrives

    def on_headers_complete(self) -> None:
        if self._early is not None and self._quiet():
            chunks = self._early.answer(self.parser.get_method(), self.url, self.headers,
                                        self.server_state.default_headers)
            if chunks is READ_BODY:
                self._body = []
                return
            if isinstance(chunks, list):
                self._write(chunks)
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._body is not None:
            self._body.append(body)
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._body is None:
            super().on_message_complete()
            return
        body, self._body = b"".join(self._body), None
        chunks = self._early.answer_with_body(  # type: ignore[union-attr]
            self.parser.get_method(), self.url, self.headers, body,
            self.server_state.default_headers) if self._quiet() else None
        if chunks is not None:
            self._write(chunks)
            return
        super().on_headers_complete()
        if body:
            super().on_body(body)
        super().on_message_complete()

    def _write(self, chunks: list[bytes]) -> None:
        self.transport.writelines(chunks)
        self.cycle = _Answered  # type: ignore[assignment]
        self.on_response_complete()  # counts it, re-arms the keep-alive timeout

    def _quiet(self) -> bool:
        """Answering now keeps responses in request order and the connection's own rules."""
        return ((self.cycle is None or self.cycle.response_complete) and not self.pipeline
                and not self.flow.write_paused and self.parser.get_http_version() == "1.1"
                and self.parser.should_keep_alive() and not self.parser.should_upgrade())

"""`/sdk/v2/vardata` answered on the connection, once the request (headers, and a POST's body)
is parsed.

A remote evaluation of 50 flags for a new user, profiled under 32 clients
(benchmarks/unleash_side_by_side.py's POST row), spent a fifth of the process's GIL time in
the ASGI cycle's two writes and header checks and another tenth in the middleware around
them, against a third in the engine. As with the config (config_on_the_wire.py), the server's
protocol offers the request here first. It is answered here when that is the whole of the
work: the snapshot current and prepared in memory, no cohort to look up (`vardata_at_hand`),
an `Api-Key`, and a POST's body declared by `Content-Length` within the body limit; a
browser's `Origin` gets the headers the CORS layer would add. Anything else, every error included, takes the ordinary route, which answers it the
same way from the same `Serving.vardata`.
"""

from __future__ import annotations

import time

from starlette.middleware.cors import CORSMiddleware

from flagyard.answering_protocol import READ_BODY, Headers, ReadBody
from flagyard.api.http.cors import simple_answer_headers, varying_on_origin
from flagyard.api.http.observability import Metrics, log_request, request_id_for
from flagyard.api.sdk.wire import (
    key_in_authorization,
    tracking_asked,
    vardata_body,
    vardata_headers,
)
from flagyard.errors import DomainError
from flagyard.serve.service import EncodedRequest, Serving

VARDATA_PATH = b"/sdk/v2/vardata"
# A request carrying one of these needs what only the ordinary route does: a chunked body, an
# interim answer, a protocol switch.
_ORDINARY_ROUTE = frozenset({b"transfer-encoding", b"expect", b"upgrade"})
_JSON = (b"content-type", b"application/json")


class VardataOnTheWire:
    def __init__(self, serving: Serving, metrics: Metrics, cors: CORSMiddleware, *, access_log: bool,
                 max_body_bytes: int) -> None:
        self._serving = serving
        self._metrics = metrics
        self._cors = cors
        self._access_log = access_log
        self._max_body = max_body_bytes
        self._head = b""
        self._head_for: Headers | None = None
        # The route's headers after the length, as the CORS layer leaves them, by origin.
        self._json_headers: dict[bytes | None, bytes] = {}

    def answer(self, method: bytes, target: bytes, headers: Headers,
               server_headers: Headers) -> list[bytes] | ReadBody | None:
        """A GET's whole response; READ_BODY for a POST this can answer; None otherwise."""
        if target.partition(b"?")[0] != VARDATA_PATH:
            return None
        if method == b"POST":
            length = _header(headers, b"content-length")
            return READ_BODY if (length.isdigit() and int(length) <= self._max_body
                                 and not _any_ordinary(headers)) else None
        if method != b"GET" or _any_ordinary(headers) or _header(headers, b"content-length"):
            return None
        started = time.perf_counter()
        return self._answered("GET", headers, vardata_headers(
            _text(headers, b"x-amp-exp-user"), _text(headers, b"x-amp-exp-flag-keys")),
            server_headers, started)

    def answer_with_body(self, method: bytes, target: bytes, headers: Headers, body: bytes,
                         server_headers: Headers) -> list[bytes] | None:
        started = time.perf_counter()
        return self._answered("POST", headers, vardata_body(body, _text(headers, b"x-amp-exp-flag-keys")),
                              server_headers, started)

    def _answered(self, method: str, headers: Headers, request: EncodedRequest,
                  server_headers: Headers, started: float) -> list[bytes] | None:
        try:
            key = key_in_authorization(_header(headers, b"authorization").decode("latin-1"))
            body = self._serving.vardata_at_hand(key, request, tracking_asked(
                _header(headers, b"x-amp-exp-track").decode("latin-1"),
                _header(headers, b"x-amp-exp-exposure-track").decode("latin-1")))
        except DomainError:
            return None  # the route names what is wrong
        if body is None:
            return None
        rid = request_id_for(_header(headers, b"x-request-id"))
        elapsed = time.perf_counter() - started
        self._metrics.observe_request(method, "/sdk/v2/vardata", 200, elapsed)
        if self._access_log:
            log_request(method, "/sdk/v2/vardata", rid, 200, elapsed)
        head = self._status_and_server_headers(server_headers)
        return [head, b"content-length: %d\r\n%bx-request-id: %b\r\n\r\n" % (
            len(body), self._after_length(_origin(headers)), rid.encode()), body]

    def _status_and_server_headers(self, server_headers: Headers) -> bytes:
        """Made once per server header list (uvicorn makes a new one each second, for the date)."""
        if server_headers is not self._head_for:
            self._head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"%b: %b\r\n" % header for header in server_headers)
            self._head_for = server_headers
            self._json_headers.clear()  # so the origins kept are a second's worth
        return self._head

    def _after_length(self, origin: bytes | None) -> bytes:
        lines = self._json_headers.get(origin)
        if lines is None:
            cors = simple_answer_headers(self._cors, origin) if origin is not None else []
            lines = self._json_headers[origin] = b"".join(
                b"%b: %b\r\n" % header for header in varying_on_origin([_JSON, *cors]))
        return lines


def _header(headers: Headers, name: bytes) -> bytes:
    for candidate, value in headers:
        if candidate == name:
            return value
    return b""


def _origin(headers: Headers) -> bytes | None:
    """The `Origin` header's value, even empty, or None without one: as the CORS layer tells."""
    return next((value for name, value in headers if name == b"origin"), None)


def _text(headers: Headers, name: bytes) -> str | None:
    value = _header(headers, name)
    return value.decode("latin-1") if value else None


def _any_ordinary(headers: Headers) -> bool:
    return any(name in _ORDINARY_ROUTE for name, _ in headers)

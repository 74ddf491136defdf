"""`GET /sdk/v2/flags` answered on the connection, as soon as the request's headers are parsed.

Under 32 clients a config request through ASGI cost about three times what the server alone
costs to answer one (12,800 against 40,000 requests/s for the same 40 KB, profiled and
measured: benchmarks/config_vs_nginx.py): a task per request, the scope, the messages and every
middleware in between, each costing a few microseconds around one dictionary lookup and a
prepared body. The server's protocol (flagyard/answering_protocol.py) offers each request here
first; the config is answered here when that is the whole of the work: the snapshot is current
in memory, the key is an `Api-Key`, and nothing in the request asks for more (a body, an
upgrade); a browser's `Origin` gets the headers the CORS layer would add. Anything else returns None and takes the ordinary route, which then also
renders every error. The answer is the route's own (`config_answer`), with the request id, the
metrics and the request log that observability gives every other request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware

from flagyard.api.http.cors import simple_answer_headers, varying_on_origin
from flagyard.api.http.observability import Metrics, log_request, request_id_for
from flagyard.api.sdk.flags_response import config_answer
from flagyard.api.sdk.wire import key_in_authorization, remote_mode
from flagyard.errors import DomainError
from flagyard.serve.service import Serving

CONFIG_PATH = b"/sdk/v2/flags"
_STATUS_LINES = {200: b"HTTP/1.1 200 OK\r\n", 304: b"HTTP/1.1 304 Not Modified\r\n"}
# A request carrying one of these needs what only the ordinary route does: a body read (and
# its size limit), an interim answer, a protocol switch.
_ORDINARY_ROUTE = frozenset({b"content-length", b"transfer-encoding", b"expect", b"upgrade"})

Headers = Sequence[tuple[bytes, bytes]]


class ConfigOnTheWire:
    def __init__(self, serving: Serving, metrics: Metrics, cors: CORSMiddleware, *, access_log: bool) -> None:
        self._serving = serving
        self._metrics = metrics
        self._cors = cors
        self._access_log = access_log
        self._heads: dict[tuple[int, bytes, bytes | None], bytes] = {}
        self._heads_for: Headers | None = None

    def answer(self, method: bytes, target: bytes, headers: Headers,
               server_headers: Headers) -> list[bytes] | None:
        """The whole HTTP/1.1 response to write, or None for the ordinary route."""
        path, _, query = target.partition(b"?")
        if path != CONFIG_PATH or method != b"GET":
            return None
        started = time.perf_counter()
        authorization = accept_encoding = if_none_match = request_id = b""
        origin: bytes | None = None
        for name, value in headers:
            if name == b"authorization":
                authorization = value
            elif name == b"accept-encoding":
                accept_encoding = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"x-request-id":
                request_id = value
            elif name == b"origin" and origin is None:  # the first, as the CORS layer reads it
                origin = value
            elif name in _ORDINARY_ROUTE:
                return None
        try:
            key = key_in_authorization(authorization.decode("latin-1"))
        except DomainError:
            return None  # the route names what is missing
        body = self._serving.config_at_hand(key, remote_mode(query))
        if body is None:
            return None
        status, raw, content = config_answer(body, accept_encoding.decode("latin-1"),
                                             if_none_match.decode("latin-1") or None)
        rid = request_id_for(request_id)
        elapsed = time.perf_counter() - started
        self._metrics.observe_request("GET", "/sdk/v2/flags", status, elapsed)
        if self._access_log:
            log_request("GET", "/sdk/v2/flags", rid, status, elapsed)
        return [self._head(status, raw, origin, server_headers), b"x-request-id: %b\r\n\r\n" % rid.encode(),
                content]

    def _head(self, status: int, raw: list[tuple[bytes, bytes]], origin: bytes | None,
              server_headers: Headers) -> bytes:
        """The status line and every header but the request id, made once per answer and
        server header list (uvicorn makes a new one each second, for the date)."""
        if server_headers is not self._heads_for:
            self._heads.clear()
            self._heads_for = server_headers
        key = (status, raw[0][1], origin)  # the ETag names the body and its encoding
        head = self._heads.get(key)
        if head is None:
            # As the CORS layer answers: its headers for an origin, and `Vary` names `Origin`.
            cors = simple_answer_headers(self._cors, origin) if origin is not None else []
            lines = [b"%b: %b\r\n" % header for header in (*server_headers, *varying_on_origin([*raw, *cors]))]
            head = self._heads[key] = _STATUS_LINES[status] + b"".join(lines)
        return head

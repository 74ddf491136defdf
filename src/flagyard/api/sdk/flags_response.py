"""The `/sdk/v2/flags` answer from a pre-serialised body: ETag, 304, gzip when asked.

Both representations carry their own ETag; a validator of either one answers 304, since they
are the same flags. `Vary: Accept-Encoding` tells caches the body depends on that header.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from flagyard.serve.bodies import FlagsBody


def accepts_gzip(accept_encoding: str) -> bool:
    for coding in accept_encoding.lower().split(","):
        name, _, params = coding.partition(";")
        if name.strip() in ("gzip", "x-gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


def _matches(if_none_match: str, *etags: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return any(etag in offered for etag in etags)


class _Prepared(Response):
    """A response whose header list is written out directly: Starlette's header building was
    a noticeable share of a config request (profiled), and these headers are always the same
    few."""

    def __init__(self, status_code: int, content: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.body = content
        self.background = None
        self.raw_headers = raw_headers


_COMMON = [(b"cache-control", b"no-cache"), (b"vary", b"Accept-Encoding")]
_JSON = (b"content-type", b"application/json")


def config_answer(body: FlagsBody, accept_encoding: str,
                  if_none_match: str | None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers (the ETag first) and content of a config answer: the one reading of the
    request's validators and encodings, for the ASGI route and for the connection
    (config_on_the_wire.py)."""
    compressed = body.gzipped() if accepts_gzip(accept_encoding) else None
    etag = body.gzip_etag if compressed is not None else body.etag
    raw = [(b"etag", etag.encode()), *_COMMON]
    if if_none_match and _matches(if_none_match, body.etag, body.gzip_etag):
        return 304, raw, b""
    content = body.body if compressed is None else compressed
    raw += [(b"content-length", str(len(content)).encode()), _JSON]
    if compressed is not None:
        raw.append((b"content-encoding", b"gzip"))
    return 200, raw, content


def flags_response(body: FlagsBody, headers: Mapping[str, str]) -> Response:
    status, raw, content = config_answer(body, headers.get("accept-encoding", ""),
                                         headers.get("if-none-match"))
    return _Prepared(status, content, raw)

"""limit / cursor query parameters and the list envelope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flagyard.errors import Invalid
from flagyard.manage.model.paging import MAX_LIMIT, Page, PageRequest

T = TypeVar("T")


def page_request(limit: int | None, cursor: str | None) -> PageRequest:
    if limit is None:
        limit = MAX_LIMIT
    if limit < 1:
        raise Invalid("limit must be at least 1", code="invalid_limit")
    return PageRequest(limit=min(limit, MAX_LIMIT), cursor=_cursor(cursor))


def _cursor(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= 19 and 0 < int(raw) < 2**63:
        return int(raw)
    raise Invalid("cursor is not a cursor this server gave out", code="invalid_cursor")


def envelope(name: str, page: Page[T], render: Callable[[T], Any]) -> dict[str, Any]:
    body: dict[str, Any] = {name: [render(item) for item in page.items]}
    if page.next_cursor is not None:
        body["nextCursor"] = page.next_cursor
    return body



def envelope_bytes(name: str, page: Page[bytes]) -> bytes:
    """`envelope` for items already serialised, as `dump_json(envelope(...))` would write it."""
    body = b'{"' + name.encode() + b'":[' + b",".join(page.items) + b"]"
    if page.next_cursor is not None:
        body += b',"nextCursor":' + str(page.next_cursor).encode()
    return body + b"}"

"""ASGI middleware: the body size limit and management-key authentication.

Authentication runs here, before any route parses a body, so a caller without a valid key
always gets 401 (and a read-only key 403 on a write), whatever the body holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flagyard.api.http.errors import domain_error_response, error_response
from flagyard.api.http.ratelimit import TokenBuckets
from flagyard.api.http.threads import in_thread
from flagyard.errors import DomainError, Unauthenticated
from flagyard.manage.keys import KeyService
from flagyard.manage.model.access import Principal

MANAGEMENT_PREFIXES = ("/api/1/", "/experiments/", "/flags/", "/deployments/")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Event ingestion applies Amplitude's own limits (1 MB, 20 MB) and answers in its format.
OWN_BODY_LIMIT_PATHS = frozenset({"/2/httpapi", "/batch"})


def is_management_path(path: str) -> bool:
    return path.startswith(MANAGEMENT_PREFIXES)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, larger: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # (path pattern, limit): the few routes that take a file, e.g. a cohort's members.
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]
        # Read (and drop) this much of a refused body before answering, so the client finishes
        # sending and then reads the 413; closing on unread data would reset the connection.
        self.drain_bytes = max(64 * max_bytes, 64 * 1024 * 1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OWN_BODY_LIMIT_PATHS:
            await self.app(scope, receive, send)
            return
        max_bytes = next((limit for pattern, limit in self.larger if pattern.fullmatch(scope["path"])),
                         self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and (len(declared) > 18 or int(declared) > max_bytes):
            await _drain(receive, {"type": "http.request", "more_body": True}, self.drain_bytes)
            await self._too_large(max_bytes)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    await _drain(receive, message, self.drain_bytes)
                    # An HTTPException passes through FastAPI's body reading unchanged.
                    raise HTTPException(413, self._message(max_bytes), headers={"Connection": "close"})
            return message

        await self.app(scope, limited, send)

    def _message(self, max_bytes: int) -> str:
        return f"request body is larger than {max_bytes} bytes"

    def _too_large(self, max_bytes: int) -> JSONResponse:
        response = error_response(413, "payload_too_large", self._message(max_bytes))
        response.headers["Connection"] = "close"
        return response


async def _drain(receive: Receive, message: Message, limit: int) -> None:
    """Consume the rest of a request body, up to `limit` bytes, discarding it."""
    drained = 0
    while message.get("more_body", False) and drained < limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))


class ManagementAuthMiddleware:
    def __init__(self, app: ASGIApp, keys: KeyService) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_management_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._authenticate(dict(scope["headers"]).get(b"authorization"))
            if scope["method"] not in READ_METHODS:
                principal.require_write()
        except DomainError as error:
            await domain_error_response(error)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(_as_json(scope), receive, send)

    async def _authenticate(self, header: bytes | None) -> Principal:
        return await in_thread(self.keys.authenticate, management_secret(header))


def keyed_answer(keys: KeyService, buckets: TokenBuckets | None, state: dict[str, Any], header: bytes | None,
                 answer: Callable[[Principal, bool], Response], *, write: bool) -> Response:
    """What the authentication and rate-limit layers and then a route would answer, in one
    call, for the fast paths that answer a route before those layers run (in a worker thread).

    In order: authenticate (a write needs a key that may write), rate-limit, `answer(principal,
    confirm_key)`. A key this process authenticated before is not read again on its own: it is
    passed with `confirm_key=True`, and `answer` confirms it unrevoked in its own transaction.
    Any refusal to such a key first checks the key in full, so a revoked key is told so before
    anything else."""
    secret = management_secret(header)
    principal = keys.remembered(secret)
    remembered = principal is not None
    if principal is None:
        principal = keys.authenticate(secret)
    state["principal"] = principal  # for the request log
    try:
        if write:
            principal.require_write()
        if buckets is not None:
            buckets.admit(principal.key_id)
        return answer(principal, remembered)
    except DomainError:
        if remembered:
            keys.forget(secret)
            keys.authenticate(secret)
        raise


def management_secret(header: bytes | None) -> str:
    """The management key in an `Authorization` header, or Unauthenticated saying what is wrong."""
    if not header:
        raise Unauthenticated("missing Authorization header: send 'Bearer <management key>'",
                              code="missing_key")
    scheme, _, secret = header.decode("latin-1").strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() == "api-key":
        raise Unauthenticated("a deployment key opens no management route; use a management key",
                              code="wrong_key_type")
    if scheme.lower() != "bearer" or not secret:
        raise Unauthenticated("Authorization must be 'Bearer <management key>'", code="missing_key")
    return secret


def _as_json(scope: Scope) -> Scope:
    """Management bodies are JSON whatever the client labels them: `curl -d` sends
    application/x-www-form-urlencoded by default, and Amplitude reads such bodies as JSON."""
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    original = dict(scope["headers"]).get(b"content-type", b"")
    if b"json" not in original:
        # In place, so outer middleware sees the scope routing fills in (the route template).
        scope["headers"] = [*headers, (b"content-type", b"application/json")]
    return scope

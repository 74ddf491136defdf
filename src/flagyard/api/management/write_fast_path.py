"""`PATCH /api/1/flags/{id}` and `PATCH /api/1/experiments/{id}` answered before routing, by
`edit_answer`.

At 10,000 flags with SDKs connected one process's writes were bound by its own CPU, and a
quarter of a write's went to routing, dependency solving, FastAPI's body handling and anyio's
thread hand-off (py-spy --gil, benchmarks/write_throughput.py). This middleware answers a PATCH
whose body is plain: declared by its length, labelled `application/json`, JSON that the route's
own model accepts. It validates with that model as FastAPI does and calls the route's function.
Anything else (a malformed or invalid body, chunked sending, a root path) goes on to routing with
the body it was sent, so errors read exactly as before.

Like the list's fast path it sits outside authentication and does that layer's work itself
(`keyed_answer`): the key check, the rate limit and the write are one hop to a worker thread,
and a key this process authenticated before is confirmed unrevoked inside the write's own
transaction instead of by a read of its own.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flagyard.api.http.middleware import keyed_answer
from flagyard.api.http.ratelimit import TokenBuckets
from flagyard.api.http.threads import answered_in_thread
from flagyard.api.management.flags import edit_answer
from flagyard.api.schemas.flags import ExperimentPatchIn, FlagPatchIn, _PatchBase
from flagyard.manage.keys import KeyService
from flagyard.manage.model.flags import Kind

COLLECTIONS: dict[str, tuple[Kind, type[_PatchBase]]] = {
    "/api/1/flags/": (Kind.FLAG, FlagPatchIn),
    "/api/1/experiments/": (Kind.EXPERIMENT, ExperimentPatchIn),
}
# Bodies above this go to routing: a plain edit is a few hundred bytes.
MAX_PLAIN_BODY = 64 * 1024


class WriteFastPath:
    def __init__(self, app: ASGIApp, keys: KeyService, buckets: TokenBuckets | None) -> None:
        self.app = app
        self.keys = keys
        self.buckets = buckets
        # Metrics label requests by their route template, as routing would have set it.
        self.labels = {prefix: SimpleNamespace(path=prefix + "{id}") for prefix in COLLECTIONS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _edited(scope)
        if found is None or not _plain_headers(scope["headers"]):
            await self.app(scope, receive, send)
            return
        prefix, id = found
        kind, model = COLLECTIONS[prefix]
        messages, body = await _read_body(receive)
        edits = _validated(model, body) if body is not None else None
        if edits is None:
            await self.app(scope, _replaying(messages, receive), send)
            return
        scope["route"] = self.labels[prefix]
        state = scope.setdefault("state", {})
        header = dict(scope["headers"]).get(b"authorization")
        response = await answered_in_thread(
            f"PATCH {scope['path']}", keyed_answer, self.keys, self.buckets, state, header,
            lambda principal, confirm_key: edit_answer(scope["app"].state.manage, principal, kind, id, edits,
                                                       confirm_key=confirm_key),
            write=True)
        await response(scope, receive, send)


def _edited(scope: Scope) -> tuple[str, str] | None:
    """(collection prefix, raw id) of a PATCH routing would send to `edit`, else None."""
    if scope["type"] != "http" or scope["method"] != "PATCH" or scope.get("root_path"):
        return None
    path: str = scope["path"]
    for prefix in COLLECTIONS:
        if path.startswith(prefix):
            id = path[len(prefix):]
            return (prefix, id) if id and "/" not in id else None
    return None


def _plain_headers(headers: list[tuple[bytes, bytes]]) -> bool:
    """One JSON content type and a small declared length, no other framing."""
    types = [value for name, value in headers if name == b"content-type"]
    lengths = [value for name, value in headers if name == b"content-length"]
    if types != [b"application/json"] or len(lengths) != 1:
        return False
    if any(name == b"transfer-encoding" for name, _ in headers):
        return False
    length = lengths[0]
    return length.isdigit() and 0 < len(length) <= 6 and int(length) <= MAX_PLAIN_BODY


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages received (for routing, if it has to read them again) and the whole body,
    or None if the client went away first."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _validated(model: type[_PatchBase], body: bytes) -> _PatchBase | None:
    """The body as FastAPI would hand it to the route (`json.loads`, then the model, as its
    body field validates); None where routing would answer an error instead."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    try:
        return model.model_validate(value, from_attributes=True)
    except ValidationError:
        return None


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay

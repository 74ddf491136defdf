"""`GET /api/1/flags` and `GET /api/1/experiments` answered before routing, by `list_page`.

With the list's documents rendered once per flag version, profiling a 50-flag list under 32
clients showed routing, dependency solving and query-parameter validation as a large share of
what was left. This middleware sits innermost, where authentication and the rate limit have
already run, and answers a list request whose query parameters are plain (each given once, a
decimal `limit`, `includeArchived` spelled `true` or `false`) with the route's own function.
Any other request goes on to routing, so validation errors read exactly as before.

It sits outside authentication and does that layer's work itself: the key check, the rate limit
and the list are one hop to a worker thread. With a kept answer, each request was two short reads
(the key, the projects' revision); as two hops, the hand-offs between the event loop and the
threads were most of a request's time under 32 clients (py-spy). A key this process has
authenticated before is confirmed unrevoked by the revision's read itself, so such a request is
one read (on PostgreSQL, one round trip).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from flagyard.api.http.middleware import keyed_answer
from flagyard.api.http.ratelimit import TokenBuckets
from flagyard.api.http.threads import answered_in_thread
from flagyard.api.management.flags import list_page
from flagyard.manage.keys import KeyService
from flagyard.manage.model.flags import Kind
from flagyard.manage.services import ManageServices

LISTS = {"/api/1/flags": (Kind.FLAG, "flags"), "/api/1/experiments": (Kind.EXPERIMENT, "experiments")}
PARAMETERS = frozenset({"key", "projectId", "limit", "cursor", "includeArchived"})
BOOLEANS = {"true": True, "false": False}


class ListFastPath:
    def __init__(self, app: ASGIApp, keys: KeyService, buckets: TokenBuckets | None) -> None:
        self.app = app
        self.keys = keys
        self.buckets = buckets
        # Metrics label requests by their route template, as routing would have set it.
        self.labels = {path: SimpleNamespace(path=path) for path in LISTS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        listed = LISTS.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        arguments = _plain_arguments(QueryParams(scope["query_string"])) if listed else None
        if listed is None or arguments is None:
            await self.app(scope, receive, send)
            return
        kind, plural = listed
        scope["route"] = self.labels[scope["path"]]
        state = scope.setdefault("state", {})
        header = dict(scope["headers"]).get(b"authorization")
        response = await answered_in_thread(f"GET {scope['path']}", self._answer, scope["app"].state.manage,
                                            state, header, kind, plural, arguments)
        await response(scope, receive, send)

    def _answer(self, services: ManageServices, state: dict[str, Any], header: bytes | None,
                kind: Kind, plural: str, arguments: Arguments) -> Response:
        """As the layers it stands for: authenticate, rate-limit, list (`keyed_answer`)."""
        return keyed_answer(
            self.keys, self.buckets, state, header,
            lambda principal, confirm_key: list_page(services, principal, kind, plural, *arguments,
                                                     confirm_key=confirm_key),
            write=False)


Arguments = tuple[str | None, str | None, int | None, str | None, bool]


def _plain_arguments(query: QueryParams) -> Arguments | None:
    """`list_page`'s last five arguments, or None when routing must validate the query string."""
    names = [name for name, _ in query.multi_items() if name in PARAMETERS]
    if len(names) != len(set(names)):
        return None
    limit = query.get("limit")
    archived = query.get("includeArchived", "false")
    if (limit is not None and not (limit.isascii() and limit.isdigit() and len(limit) <= 9)) \
            or archived not in BOOLEANS:
        return None
    return (query.get("key"), query.get("projectId"), int(limit) if limit is not None else None,
            query.get("cursor"), BOOLEANS[archived])

"""`GET /api/1/flags` and `GET /api/1/experiments` answered before routing, by `list_page`.

With the list's documents rendered once per flag version, profiling a 50-flag list under 32
clients showed routing, dependency solving and query-parameter validation as a large share of
what was left. This middleware sits innermost, where authentication and the rate limit have
already run, and answers a list request whose query parameters are plain (each given once, a
decimal `limit`, `includeArchived` spelled `true` or `false`) with the route's own function.
Any other request goes on to routing, so validation errors read exactly as before.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from flagyard.api.http.errors import domain_error_response, error_response
from flagyard.api.http.threads import in_thread
from flagyard.api.management.flags import list_page
from flagyard.errors import DomainError
from flagyard.manage.model.flags import Kind

log = logging.getLogger("flagyard.api")

LISTS = {"/api/1/flags": (Kind.FLAG, "flags"), "/api/1/experiments": (Kind.EXPERIMENT, "experiments")}
PARAMETERS = frozenset({"key", "projectId", "limit", "cursor", "includeArchived"})
BOOLEANS = {"true": True, "false": False}


class ListFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Metrics label requests by their route template, as routing would have set it.
        self.labels = {path: SimpleNamespace(path=path) for path in LISTS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        listed = LISTS.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        principal = scope.get("state", {}).get("principal")
        arguments = _plain_arguments(QueryParams(scope["query_string"])) if listed else None
        if listed is None or principal is None or arguments is None:
            await self.app(scope, receive, send)
            return
        kind, plural = listed
        scope["route"] = self.labels[scope["path"]]
        services = scope["app"].state.manage
        response: Response
        try:
            response = await in_thread(list_page, services, principal, kind, plural, *arguments)
        except DomainError as error:
            response = domain_error_response(error)
        except Exception:
            log.exception("unhandled error on GET %s", scope["path"])
            response = error_response(500, "internal_error", "internal server error")
        await response(scope, receive, send)


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

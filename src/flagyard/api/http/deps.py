"""Request-scoped values for route functions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from flagyard.config import Settings
from flagyard.errors import Invalid, NotFound, Unauthenticated
from flagyard.manage.model.access import Principal
from flagyard.manage.services import ManageServices
from flagyard.measure.services import MeasureServices
from flagyard.serve.services import ServeServices


# Async, though they wait for nothing: FastAPI runs a plain `def` dependency on a worker
# thread, a hand-off per dependency per request that profiling showed on every management call.
async def _principal(request: Request) -> Principal:
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise Unauthenticated("missing Authorization header", code="missing_key")
    return principal


# One typed container per wing, set by the composition root (app.py).
def manage_services(request: Request) -> ManageServices:
    return request.app.state.manage


def serve_services(request: Request) -> ServeServices:
    return request.app.state.serve


def measure_services(request: Request) -> MeasureServices:
    return request.app.state.measure


async def _services(request: Request) -> ManageServices:
    return manage_services(request)


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


PrincipalDep = Annotated[Principal, Depends(_principal)]
ServicesDep = Annotated[ManageServices, Depends(_services)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def path_id(raw: str, what: str) -> int:
    """Ids in paths are decimal; anything else names nothing."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) < 2**31:
        return int(raw)
    raise NotFound(f"{what} {raw} not found", code=f"{what.lower().replace(' ', '_')}_not_found")


def query_id(raw: str, field: str) -> int:
    """An id given as a query filter: malformed input is the caller's mistake (400), not a miss."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) < 2**31:
        return int(raw)
    raise Invalid(f"{field} must be an id (a positive decimal number)", code="invalid_field")

"""/api/1/versions: the history of every flag and experiment, newest first."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter

from flagyard.api.http.deps import PrincipalDep, ServicesDep
from flagyard.api.http.pagination import envelope, page_request
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS, VersionListOut, documented
from flagyard.errors import Invalid
from flagyard.manage.model.versions import version_record
from flagyard.manage.versions import TimeWindow

router = APIRouter(prefix="/api/1/versions", tags=["Versions"], responses=MANAGEMENT_ERRORS)


@router.get("", summary="List versions of every flag and experiment, newest first",
            **documented(VersionListOut))
def list_versions(principal: PrincipalDep, services: ServicesDep, start: str | None = None,
                  end: str | None = None, limit: int | None = None,
                  cursor: str | None = None) -> dict[str, Any]:
    window = TimeWindow(start=_moment(start, "start", end_of_day=False),
                        end=_moment(end, "end", end_of_day=True))
    page = services.versions.page(principal, window, page_request(limit, cursor))
    return envelope("versions", page, version_record)


def _moment(raw: str | None, field: str, *, end_of_day: bool) -> datetime | None:
    """A date means the whole day: `end=2024-05-01` includes changes made on May 1st."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{field} must be an ISO 8601 date or date-time", code="invalid_date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

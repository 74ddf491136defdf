"""/api/1/versions: the history of every flag and experiment, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from flagyard.api.http.deps import PrincipalDep, ServicesDep
from flagyard.api.http.moments import query_moment
from flagyard.api.http.pagination import envelope, page_request
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS, VersionListOut, documented
from flagyard.manage.model.versions import version_record
from flagyard.manage.versions import TimeWindow

router = APIRouter(prefix="/api/1/versions", tags=["Versions"], responses=MANAGEMENT_ERRORS)


@router.get("", summary="List versions of every flag and experiment, newest first",
            **documented(VersionListOut))
def list_versions(principal: PrincipalDep, services: ServicesDep, start: str | None = None,
                  end: str | None = None, limit: int | None = None,
                  cursor: str | None = None) -> dict[str, Any]:
    window = TimeWindow(start=query_moment(start, "start", end_of_day=False),
                        end=query_moment(end, "end", end_of_day=True))
    page = services.versions.page(principal, window, page_request(limit, cursor))
    return envelope("versions", page, version_record)

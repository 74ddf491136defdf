"""GET /api/1/{flags|experiments}/{id}/usage: evaluations per deployment and day, staleness."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from flagyard.api.http.deps import PrincipalDep, ServicesDep, path_id
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS, UsageOut, documented
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.usage import MAX_DAYS, usage_document


def usage_router(kind: Kind, plural: str) -> APIRouter:
    router = APIRouter(prefix=f"/api/1/{plural}", tags=[plural.title()], responses=MANAGEMENT_ERRORS)

    @router.get(
        "/{id}/usage",
        summary=f"When and how often the {kind.value} was evaluated",
        description=(
            "Remote evaluations (`/sdk/v2/vardata`, `/v1/vardata`, OFREP) per deployment and UTC "
            "day over the last `days` days, the last evaluation's time however old, and what "
            "makes it a candidate for removal: days without an evaluation (since its creation if "
            "never), and the one variant it serves to everyone with the days since it last "
            "changed. Servers count in memory and write every few seconds, so the newest "
            "evaluations may not show yet. Local evaluation happens in the SDK and is not counted."
        ),
        **documented(UsageOut),
    )
    def usage(id: str, principal: PrincipalDep, services: ServicesDep,
              days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30) -> dict[str, Any]:
        return usage_document(services.usage.usage(principal, kind, path_id(id, kind.label), days))

    return router

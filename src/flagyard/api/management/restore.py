"""POST /api/1/{flags|experiments}/{id}/versions/{version}/restore."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from flagyard.api.http.deps import PrincipalDep, manage_services, path_id
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS, VersionOut, documented
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.versions import version_document


def restore_router(kind: Kind, plural: str) -> APIRouter:
    router = APIRouter(prefix=f"/api/1/{plural}", tags=[plural.title()], responses=MANAGEMENT_ERRORS)

    @router.post(
        "/{id}/versions/{versionId}/restore",
        summary=f"Restore a {kind.value} to an earlier version",
        description=(
            f"Appends a new version whose configuration equals version `versionId` of the "
            f"{kind.value} (variants, weights, targeting, deployments, tags, enabled, ...). User "
            "and cohort inclusions are not part of versions: those of variants kept by key stay."
        ),
        **documented(VersionOut, held=True),
    )
    def restore(id: str, versionId: str, request: Request, principal: PrincipalDep) -> dict[str, Any]:
        version = manage_services(request).restore.restore(principal, kind, path_id(id, kind.label), path_id(versionId, "Version"))
        return version_document(version)

    return router

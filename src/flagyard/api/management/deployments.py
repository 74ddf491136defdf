"""/api/1/deployments: list, get, create, edit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from flagyard.api.http.deps import PrincipalDep, ServicesDep, path_id
from flagyard.api.http.pagination import envelope, page_request
from flagyard.api.management.responses import ok
from flagyard.api.schemas.deployments import DeploymentCreateIn, DeploymentPatchIn
from flagyard.api.schemas.responses import (
    MANAGEMENT_ERRORS,
    OK_TEXT_RESPONSE,
    DeploymentCreatedOut,
    DeploymentListOut,
    DeploymentOut,
    documented,
)
from flagyard.manage.model.deployments import deployment_document

router = APIRouter(prefix="/api/1/deployments", tags=["Deployments"], responses=MANAGEMENT_ERRORS)


@router.get("", summary="List deployments, newest first", **documented(DeploymentListOut))
def list_deployments(principal: PrincipalDep, services: ServicesDep, limit: int | None = None,
                     cursor: str | None = None) -> dict[str, Any]:
    page = services.deployments.page(principal, page_request(limit, cursor))
    return envelope("deployments", page, deployment_document)


@router.post("", summary="Create a deployment", **documented(DeploymentCreatedOut))
def create_deployment(body: DeploymentCreateIn, principal: PrincipalDep,
                      services: ServicesDep) -> dict[str, str]:
    deployment = services.deployments.create(principal, body.project_id, body.label, body.type,
                                             body.require_approval)
    return {"id": str(deployment.id)}


@router.get("/{id}", summary="Get a deployment", **documented(DeploymentOut))
def get_deployment(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return deployment_document(services.deployments.get(principal, path_id(id, "Deployment")))


@router.patch("/{id}", response_class=PlainTextResponse, summary="Edit or archive a deployment",
              responses=OK_TEXT_RESPONSE)
def edit_deployment(id: str, body: DeploymentPatchIn, principal: PrincipalDep,
                    services: ServicesDep) -> PlainTextResponse:
    services.deployments.edit(principal, path_id(id, "Deployment"), body.changes())
    return ok()

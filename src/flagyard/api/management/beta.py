"""The beta generation: /experiments/list, /experiments/new, /flags/list, /flags/new, ...

Same storage and services as /api/1; answers as the beta documents say (create returns the
whole object, lists take only limit and cursor).
"""


from typing import Any, cast

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from flagyard.api.http.deps import PrincipalDep, ServicesDep, path_id
from flagyard.api.http.pagination import envelope, page_request
from flagyard.api.management.responses import ok
from flagyard.api.schemas.flags import RolloutWeightsIn, _CreateBase, _PatchBase
from flagyard.api.schemas.responses import (
    MANAGEMENT_ERRORS,
    OK_OR_HELD_TEXT_RESPONSE,
    DeploymentListOut,
    ExperimentListOut,
    FlagListOut,
    FlagOut,
    documented,
)
from flagyard.manage.flags import FlagFilter
from flagyard.manage.model.deployments import deployment_document
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Kind


def beta_router(kind: Kind, plural: str, create_in: type[_CreateBase],
                patch_in: type[_PatchBase]) -> APIRouter:
    router = APIRouter(prefix=f"/{plural}", tags=[f"{plural.title()} (beta)"], responses=MANAGEMENT_ERRORS)
    list_out = FlagListOut if kind is Kind.FLAG else ExperimentListOut
    label = kind.label

    @router.get("/list", summary=f"List {plural}, newest first", **documented(list_out))
    def list_items(principal: PrincipalDep, services: ServicesDep, limit: int | None = None,
                   cursor: str | None = None) -> dict[str, Any]:
        page = services.flags.page(principal, kind, FlagFilter(), page_request(limit, cursor))
        return envelope(plural, page, flag_document)

    @router.post("/new", summary=f"Create a {kind.value}", **documented(FlagOut))
    def create(body: create_in, principal: PrincipalDep,  # type: ignore[valid-type]
               services: ServicesDep) -> dict[str, Any]:
        return flag_document(services.flags.create(principal, kind, cast(_CreateBase, body).fields()))

    @router.get("/{id}", summary=f"Get a {kind.value}", **documented(FlagOut))
    def get(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
        return flag_document(services.flags.get(principal, kind, path_id(id, label)))

    @router.patch("/{id}", summary=f"Edit a {kind.value}", **documented(FlagOut, held=True))
    def edit(id: str, body: patch_in, principal: PrincipalDep,  # type: ignore[valid-type]
             services: ServicesDep) -> dict[str, Any]:
        return flag_document(services.flags.edit(principal, kind, path_id(id, label), cast(_PatchBase, body).edits()))

    if kind is Kind.EXPERIMENT:

        @router.post("/{id}/activate", response_class=PlainTextResponse, summary="Activate", responses=OK_OR_HELD_TEXT_RESPONSE)
        def activate(id: str, principal: PrincipalDep, services: ServicesDep) -> PlainTextResponse:
            services.flags.set_enabled(principal, kind, path_id(id, label), True)
            return ok()

        @router.post("/{id}/deactivate", response_class=PlainTextResponse, summary="Deactivate", responses=OK_OR_HELD_TEXT_RESPONSE)
        def deactivate(id: str, principal: PrincipalDep, services: ServicesDep) -> PlainTextResponse:
            services.flags.set_enabled(principal, kind, path_id(id, label), False)
            return ok()

        @router.post("/{id}/rollout-weights", response_class=PlainTextResponse,
                     summary="Replace the rollout weights of the variants",
                     responses=OK_OR_HELD_TEXT_RESPONSE)
        def rollout_weights(id: str, body: RolloutWeightsIn, principal: PrincipalDep,
                            services: ServicesDep) -> PlainTextResponse:
            services.flags.set_rollout_weights(principal, kind, path_id(id, label), body.rollout_weights)
            return ok()

    return router


deployments_router = APIRouter(prefix="/deployments", tags=["Deployments (beta)"],
                               responses=MANAGEMENT_ERRORS)


@deployments_router.get("/list", summary="List deployments, newest first",
                        **documented(DeploymentListOut))
def list_deployments(principal: PrincipalDep, services: ServicesDep, limit: int | None = None,
                     cursor: str | None = None) -> dict[str, Any]:
    page = services.deployments.page(principal, page_request(limit, cursor))
    return envelope("deployments", page, deployment_document)

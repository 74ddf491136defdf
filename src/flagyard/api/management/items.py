"""Sub-resources of one flag or experiment: variants, inclusions, cohorts, deployments, versions.

Built once per kind and mounted under both generations' prefixes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from flagyard.api.http.deps import PrincipalDep, ServicesDep, path_id
from flagyard.api.management.responses import ok
from flagyard.api.schemas.flags import (
    BulkRemoveIn,
    DeploymentLinksIn,
    InclusionsIn,
    VariantIn,
    VariantPatchIn,
)
from flagyard.api.schemas.responses import (
    MANAGEMENT_ERRORS,
    OK_OR_HELD_TEXT_RESPONSE,
    OK_TEXT_RESPONSE,
    DeploymentOut,
    VariantOut,
    VersionOut,
    documented,
)
from flagyard.errors import Invalid
from flagyard.manage.model.deployments import deployment_document
from flagyard.manage.model.document import variant_document
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.versions import version_document


def item_router(kind: Kind, prefix: str, tag: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag], responses=MANAGEMENT_ERRORS)
    label = kind.label

    def fid(raw: str) -> int:
        return path_id(raw, label)

    # --- versions --------------------------------------------------------------------------

    @router.get("/{id}/versions", summary=f"List versions of a {kind.value}",
                **documented(list[VersionOut]))
    def list_versions(id: str, principal: PrincipalDep, services: ServicesDep) -> list[dict[str, Any]]:
        return [version_document(v) for v in services.versions.for_flag(principal, kind, fid(id))]

    @router.get("/{id}/versions/{versionId}", summary=f"Get one version of a {kind.value}",
                **documented(VersionOut))
    def get_version(id: str, versionId: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
        number = path_id(versionId, "Version")
        return version_document(services.versions.get(principal, kind, fid(id), number))

    # --- variants --------------------------------------------------------------------------

    @router.get("/{id}/variants", summary=f"List variants of a {kind.value}",
                **documented(list[VariantOut]))
    def list_variants(id: str, principal: PrincipalDep, services: ServicesDep) -> list[dict[str, Any]]:
        return [variant_document(v) for v in services.variants.variants(principal, kind, fid(id))]

    @router.get("/{id}/variants/{variantKey}", summary="Get a variant", **documented(VariantOut))
    def get_variant(id: str, variantKey: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
        return variant_document(services.variants.get(principal, kind, fid(id), variantKey))

    @router.post("/{id}/variants", response_class=PlainTextResponse, responses=OK_OR_HELD_TEXT_RESPONSE, summary="Create a variant")
    def create_variant(id: str, body: VariantIn, principal: PrincipalDep, services: ServicesDep) -> PlainTextResponse:
        services.variants.create(principal, kind, fid(id), body.model_dump())
        return ok()

    @router.patch("/{id}/variants/{variantKey}", response_class=PlainTextResponse, responses=OK_OR_HELD_TEXT_RESPONSE, summary="Edit a variant")
    def edit_variant(id: str, variantKey: str, body: VariantPatchIn, principal: PrincipalDep,
                     services: ServicesDep) -> PlainTextResponse:
        services.variants.edit(principal, kind, fid(id), variantKey, body.changes())
        return ok()

    @router.delete("/{id}/variants/{variantKey}", response_class=PlainTextResponse, responses=OK_OR_HELD_TEXT_RESPONSE, summary="Remove a variant")
    def remove_variant(id: str, variantKey: str, principal: PrincipalDep, services: ServicesDep) -> PlainTextResponse:
        services.variants.remove(principal, kind, fid(id), variantKey)
        return ok()

    # --- user inclusions -------------------------------------------------------------------

    @router.get("/{id}/variants/{variantKey}/users", summary="List a variant's included users")
    def list_users(id: str, variantKey: str, principal: PrincipalDep, services: ServicesDep) -> list[str]:
        return services.variants.inclusions(principal, kind, fid(id), variantKey, "users")

    @router.post("/{id}/variants/{variantKey}/users", response_class=PlainTextResponse, responses=OK_TEXT_RESPONSE,
                 summary="Include users or devices in a variant")
    def add_users(id: str, variantKey: str, body: InclusionsIn, principal: PrincipalDep,
                  services: ServicesDep) -> PlainTextResponse:
        services.variants.include(principal, kind, fid(id), variantKey, "users", body.inclusions)
        return ok()

    @router.delete("/{id}/variants/{variantKey}/users/{userIndex}", response_class=PlainTextResponse, responses=OK_TEXT_RESPONSE,
                   summary="Remove the included user at a zero-based index")
    def remove_user(id: str, variantKey: str, userIndex: str, principal: PrincipalDep,
                    services: ServicesDep) -> PlainTextResponse:
        if not (userIndex.isascii() and userIndex.isdigit() and len(userIndex) <= 10) or int(userIndex) >= 2**31:
            raise Invalid("userIndex must be a zero-based integer index", code="invalid_index")
        services.variants.remove_at(principal, kind, fid(id), variantKey, int(userIndex))
        return ok()

    @router.delete("/{id}/variants/{variantKey}/users", response_class=PlainTextResponse, responses=OK_TEXT_RESPONSE,
                   summary="Remove every included user of a variant")
    def remove_all_users(id: str, variantKey: str, principal: PrincipalDep,
                         services: ServicesDep) -> PlainTextResponse:
        services.variants.clear(principal, kind, fid(id), variantKey)
        return ok()

    @router.delete("/{id}/variants/{variantKey}/bulk-delete-users", response_class=PlainTextResponse, responses=OK_TEXT_RESPONSE,
                   summary="Remove up to 100 included users by id")
    def bulk_remove_users(id: str, variantKey: str, body: BulkRemoveIn, principal: PrincipalDep,
                          services: ServicesDep) -> PlainTextResponse:
        services.variants.bulk_remove(principal, kind, fid(id), variantKey, "users", body.users)
        return ok()

    # --- cohort inclusions -----------------------------------------------------------------

    @router.get("/{id}/variants/{variantKey}/cohorts", summary="List a variant's included cohorts")
    def list_cohorts(id: str, variantKey: str, principal: PrincipalDep, services: ServicesDep) -> list[str]:
        return services.variants.inclusions(principal, kind, fid(id), variantKey, "cohorts")

    @router.post("/{id}/variants/{variantKey}/cohorts", response_class=PlainTextResponse, responses=OK_TEXT_RESPONSE,
                 summary="Include cohorts in a variant")
    def add_cohorts(id: str, variantKey: str, body: InclusionsIn, principal: PrincipalDep,
                    services: ServicesDep) -> PlainTextResponse:
        services.variants.include(principal, kind, fid(id), variantKey, "cohorts", body.inclusions)
        return ok()

    @router.delete("/{id}/variants/{variantKey}/bulk-delete-cohorts", response_class=PlainTextResponse, responses=OK_TEXT_RESPONSE,
                   summary="Remove up to 100 included cohorts by id")
    def bulk_remove_cohorts(id: str, variantKey: str, body: BulkRemoveIn, principal: PrincipalDep,
                            services: ServicesDep) -> PlainTextResponse:
        services.variants.bulk_remove(principal, kind, fid(id), variantKey, "cohorts", body.users)
        return ok()

    # --- deployments -----------------------------------------------------------------------

    @router.get("/{id}/deployments", summary=f"List the deployments of a {kind.value}",
                **documented(list[DeploymentOut]))
    def list_deployments(id: str, principal: PrincipalDep, services: ServicesDep) -> list[dict[str, Any]]:
        return [deployment_document(d) for d in services.deployments.for_flag(principal, kind, fid(id))]

    @router.post("/{id}/deployments", response_class=PlainTextResponse, responses=OK_OR_HELD_TEXT_RESPONSE, summary="Add deployments")
    def add_deployments(id: str, body: DeploymentLinksIn, principal: PrincipalDep,
                        services: ServicesDep) -> PlainTextResponse:
        services.deployments.link(principal, kind, fid(id), body.deployments)
        return ok()

    @router.delete("/{id}/deployments/{deploymentId}", response_class=PlainTextResponse, responses=OK_OR_HELD_TEXT_RESPONSE,
                   summary="Remove a deployment")
    def remove_deployment(id: str, deploymentId: str, principal: PrincipalDep,
                          services: ServicesDep) -> PlainTextResponse:
        deployment_id = path_id(deploymentId, "Deployment")
        services.deployments.unlink(principal, kind, fid(id), deployment_id)
        return ok()

    return router

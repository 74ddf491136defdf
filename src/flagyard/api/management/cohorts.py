"""/api/1/cohorts: list, create, get, edit or archive, and members in batches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from flagyard.api.http.deps import PrincipalDep, SettingsDep, manage_services, query_id
from flagyard.api.http.pagination import envelope, page_request
from flagyard.api.schemas.cohorts import (
    CohortCreateIn,
    CohortListOut,
    CohortOut,
    CohortPatchIn,
    MembersIn,
)
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS, CreatedOut, documented
from flagyard.manage.cohorts import CohortService
from flagyard.manage.model.cohorts import cohort_document


def _cohorts(request: Request) -> CohortService:
    return manage_services(request).cohorts


CohortsDep = Annotated[CohortService, Depends(_cohorts)]

router = APIRouter(prefix="/api/1/cohorts", tags=["Cohorts"], responses=MANAGEMENT_ERRORS)


@router.get("", summary="List cohorts, newest first", **documented(CohortListOut))
def list_cohorts(principal: PrincipalDep, cohorts: CohortsDep, projectId: str | None = None,
                 limit: int | None = None, cursor: str | None = None,
                 includeArchived: bool = False) -> dict[str, Any]:
    project_id = query_id(projectId, "projectId") if projectId is not None else None
    page = cohorts.page(principal, project_id, includeArchived, page_request(limit, cursor))
    return envelope("cohorts", page, cohort_document)


@router.post("", summary="Create a cohort, optionally with its first members",
             **documented(CreatedOut))
def create_cohort(body: CohortCreateIn, principal: PrincipalDep, cohorts: CohortsDep,
                  settings: SettingsDep) -> dict[str, str]:
    cohort = cohorts.create(principal, body.project_id, body.name, description=body.description,
                            group_type=body.group_type, member_ids=body.member_ids)
    return {"id": cohort.public_id, "url": f"{settings.base_url()}/api/1/cohorts/{cohort.public_id}"}


@router.get("/{id}", summary="Get a cohort", **documented(CohortOut))
def get_cohort(id: str, principal: PrincipalDep, cohorts: CohortsDep) -> dict[str, Any]:
    return cohort_document(cohorts.get(principal, id))


@router.patch("/{id}", summary="Rename, describe, archive or restore a cohort",
              **documented(CohortOut))
def edit_cohort(id: str, body: CohortPatchIn, principal: PrincipalDep,
                cohorts: CohortsDep) -> dict[str, Any]:
    return cohort_document(cohorts.edit(principal, id, body.changes()))


@router.post("/{id}/members", summary="Add up to 10,000 members", **documented(CohortOut))
def add_members(id: str, body: MembersIn, principal: PrincipalDep,
                cohorts: CohortsDep) -> dict[str, Any]:
    return cohort_document(cohorts.add_members(principal, id, body.member_ids))


@router.delete("/{id}/members", summary="Remove up to 10,000 members", **documented(CohortOut))
def remove_members(id: str, body: MembersIn, principal: PrincipalDep,
                   cohorts: CohortsDep) -> dict[str, Any]:
    return cohort_document(cohorts.remove_members(principal, id, body.member_ids))


@router.put("/{id}/members", summary="Replace all members with up to 10,000 ids",
            **documented(CohortOut))
def replace_members(id: str, body: MembersIn, principal: PrincipalDep,
                    cohorts: CohortsDep) -> dict[str, Any]:
    return cohort_document(cohorts.replace_members(principal, id, body.member_ids))

"""/api/1/cohorts: list, create, get, edit or archive, and members in batches or from a file."""

from __future__ import annotations

import tempfile
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request

from flagyard.api.http.deps import PrincipalDep, SettingsDep, manage_services, query_id
from flagyard.api.http.pagination import envelope, page_request
from flagyard.api.schemas.cohorts import (
    CohortCreateIn,
    CohortListOut,
    CohortOut,
    CohortPatchIn,
    MemberFileOut,
    MembersIn,
)
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS, CreatedOut, documented
from flagyard.manage.cohorts import CohortService
from flagyard.manage.model.cohorts import cohort_document
from flagyard.manage.model.member_file import FileFormat, MemberFile, UploadMode


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


# The file route's path, for the body limit that lets a file of members past the usual one.
FILE_PATH = r"/api/1/cohorts/[A-Za-z0-9]{1,32}/members/file"
_FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "One member id per line (format=text), or CSV rows with the id in the first "
                       "column (format=csv); UTF-8, blank lines skipped",
        "content": {"text/plain": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}},
    }
}


@router.post("/{id}/members/file", summary="Add, remove or replace members from a file of ids, all or nothing",
             openapi_extra=_FILE_BODY, **documented(MemberFileOut))
async def members_from_file(id: str, request: Request, principal: PrincipalDep, cohorts: CohortsDep,
                            mode: UploadMode = UploadMode.ADD, format: FileFormat = FileFormat.TEXT,
                            header: bool = False) -> dict[str, Any]:
    """The body is spooled to a temporary file as it arrives; every line is checked (a bad
    one is a 400 naming the first bad lines, nothing changed), then the file is applied in one
    transaction (ADR 0102)."""
    with tempfile.TemporaryFile() as spool:
        async for chunk in request.stream():
            await to_thread.run_sync(spool.write, chunk)
        result = await to_thread.run_sync(
            lambda: cohorts.upload(principal, id, mode, MemberFile(spool, format, header)))
    return {"mode": result.mode.value, "ids": result.ids, "changed": result.changed, "size": result.size}

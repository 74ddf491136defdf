"""/api/1/change-requests: changes to flags on deployments that require approval (ADR 0089,
docs/approvals.md). They are opened by the writes themselves (202 {"changeRequestId"})."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from flagyard.api.http.deps import PrincipalDep, ServicesDep, path_id, query_id
from flagyard.api.http.pagination import envelope, page_request
from flagyard.api.schemas.change_requests import CommentIn, ReviewIn
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS
from flagyard.manage.change_requests import RequestFilter, Reviewed
from flagyard.manage.model.change_requests import change_request_document

router = APIRouter(prefix="/api/1/change-requests", tags=["Change requests"], responses=MANAGEMENT_ERRORS)


def _id(raw: str) -> int:
    return path_id(raw, "Change request")


def _full(reviewed: Reviewed) -> dict[str, Any]:
    return change_request_document(reviewed.request, reviewed.diff)


def _statuses(raw: str | None) -> list[str]:
    """The statuses asked for; a word that is no status matches nothing, as other text filters."""
    return [part.strip() for part in raw.split(",")] if raw else []


@router.get("", summary="List change requests, newest first")
def list_change_requests(principal: PrincipalDep, services: ServicesDep, limit: int | None = None,
                         cursor: str | None = None,
                         projectId: Annotated[str | None, Query()] = None,  # noqa: N803
                         flagId: Annotated[int | None, Query(gt=0, lt=2**31)] = None,  # noqa: N803
                         status: Annotated[str | None, Query(description="e.g. open,approved")] = None,
                         ) -> dict[str, Any]:
    filters = RequestFilter(
        project_id=query_id(projectId, "projectId") if projectId is not None else None,
        flag_id=flagId,
        statuses=_statuses(status))
    page = services.change_requests.page(principal, filters, page_request(limit, cursor))
    return envelope("changeRequests", page, change_request_document)


@router.get("/{id}", summary="Get a change request with its diff and comments")
def get_change_request(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return _full(services.change_requests.get(principal, _id(id)))


@router.post("/{id}/approve", summary="Approve a change request (not your own)")
def approve_change_request(id: str, principal: PrincipalDep, services: ServicesDep,
                           body: ReviewIn | None = None) -> dict[str, Any]:
    return _full(services.change_requests.approve(principal, _id(id), body.comment if body else None))


@router.post("/{id}/reject", summary="Reject a change request")
def reject_change_request(id: str, principal: PrincipalDep, services: ServicesDep,
                          body: ReviewIn | None = None) -> dict[str, Any]:
    return _full(services.change_requests.reject(principal, _id(id), body.comment if body else None))


@router.post("/{id}/apply", summary="Apply an approved change request: one version naming author and approver")
def apply_change_request(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return _full(services.change_requests.apply(principal, _id(id)))


@router.post("/{id}/rebase", summary="Move a change request onto the flag's current version")
def rebase_change_request(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return _full(services.change_requests.rebase(principal, _id(id)))


@router.post("/{id}/comments", summary="Comment on a change request", status_code=201)
def comment_change_request(id: str, body: CommentIn, principal: PrincipalDep,
                           services: ServicesDep) -> dict[str, Any]:
    return _full(services.change_requests.comment(principal, _id(id), body.body))

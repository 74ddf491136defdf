"""Change requests: list and read them, approve, reject, comment, rebase, and apply.

They are opened by the approval gate (manage/approvals.py) when a change to a protected flag
is made. Applying one is a single unit of work that checks the flag has not moved since, makes
the flag match the proposal (the way a restore does) and appends one version naming the author
and the approver, or creates the approved schedule.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from flagyard.clock import Clock, utc_now
from flagyard.errors import Conflict, Forbidden, NotFound
from flagyard.manage.approvals import announce
from flagyard.manage.audit import record
from flagyard.manage.changes import Approval, append_version
from flagyard.manage.dependencies import check_parent_dependencies
from flagyard.manage.linking import check_linkable_deployments
from flagyard.manage.membership import changed_parents, parents_of, version_groups
from flagyard.manage.model.access import Principal
from flagyard.manage.model.change_requests import (
    ChangeRequest,
    Comment,
    ProposalType,
    Status,
    check_comment,
    proposal_diff,
    rebased,
)
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Flag
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.model.restore import adopt
from flagyard.manage.model.schedules import plan_from_document
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory
from flagyard.manage.schedules import add_schedule

_STATUSES = frozenset(status.value for status in Status)


@dataclass(frozen=True)
class Reviewed:
    """A change request with what it changes, field by field."""

    request: ChangeRequest
    diff: list[dict[str, Any]]


@dataclass(frozen=True)
class RequestFilter:
    project_id: int | None = None
    flag_id: int | None = None
    statuses: Collection[str] = ()  # status names; one that is no status matches nothing


class ChangeRequestService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    def page(self, principal: Principal, filters: RequestFilter, page: PageRequest) -> Page[ChangeRequest]:
        scope = principal.project_ids
        if filters.project_id is not None:
            principal.require_project(filters.project_id)
            scope = frozenset({filters.project_id})
        known = [name for name in filters.statuses if name in _STATUSES]
        if filters.statuses and not known:
            return Page([], None)  # no request has a status that is no status
        with self._uow() as uow:
            items = uow.change_requests.page(project_ids=scope, flag_id=filters.flag_id,
                                             statuses=known, before_id=page.cursor,
                                             limit=page.limit + 1)
        return Page.from_overfetch(items, page.limit, lambda r: r.id)

    def get(self, principal: Principal, request_id: int) -> Reviewed:
        with self._uow() as uow:
            return _reviewed(uow, _visible(uow, principal, request_id))

    def approve(self, principal: Principal, request_id: int, comment: str | None = None) -> Reviewed:
        return self._review(principal, request_id, "approved", comment)

    def reject(self, principal: Principal, request_id: int, comment: str | None = None) -> Reviewed:
        return self._review(principal, request_id, "rejected", comment)

    def comment(self, principal: Principal, request_id: int, body: str) -> Reviewed:
        principal.require_write()
        body = check_comment(body)
        now = self._clock()
        with self._uow(write=True) as uow:
            request = _visible(uow, principal, request_id, for_update=True)
            _add_comment(uow, request, principal, body, now)
            uow.commit()
            return _reviewed(uow, request)

    def apply(self, principal: Principal, request_id: int) -> Reviewed:
        """Apply an approved request: one version by its author, approved by its reviewer (or
        the schedule it asked for). 409 if the flag moved since the request was made."""
        principal.require_write()
        now = self._clock()
        with self._uow(write=True) as uow:
            request = _visible(uow, principal, request_id, for_update=True)
            flag = _flag(uow, request)
            if request.type is ProposalType.SCHEDULE:
                request.ensure_applicable(None)
                schedule = add_schedule(uow, flag, plan_from_document(request.proposed), request.author, now)
                request.schedule_id = schedule.id
                request.mark_applied(principal, now, None)
            else:
                request.ensure_applicable(flag.version)
                _apply_version(uow, request, flag, now)
                request.mark_applied(principal, now, flag.version)
            uow.change_requests.save(request)
            reviewed = _reviewed(uow, request)
            record(uow, principal, "change_request.applied", "change_request", request.id, request.project_id,
                   now, {"status": Status.APPROVED.value},
                   {"status": request.status.value, "version": request.applied_version,
                    "scheduleId": request.schedule_id})
            announce(uow, request, "change_request.applied", principal.name, reviewed.diff, now)
            uow.commit()
        return reviewed

    def rebase(self, principal: Principal, request_id: int) -> Reviewed:
        """Move the proposal onto the flag's current version: the fields it changes over the
        current ones. The approval, if any, is withdrawn: what is reviewed has changed."""
        principal.require_write()
        now = self._clock()
        with self._uow(write=True) as uow:
            request = _visible(uow, principal, request_id, for_update=True)
            request.ensure_rebasable()
            if request.type is ProposalType.SCHEDULE:
                raise Conflict("a scheduled change is checked against the flag when it is applied; "
                               "it needs no rebase", code="nothing_to_rebase")
            flag = _flag(uow, request)
            if flag.version == request.base_version:
                raise Conflict(f"change request {request.id} is already based on the current version "
                               f"({flag.version})", code="nothing_to_rebase")
            base = uow.versions.get(flag.id, request.base_version)
            current = flag_document(flag)
            merged = rebased(base.flag_config if base else {}, request.proposed, current)
            before = {"baseVersion": request.base_version, "status": request.status.value}
            request.base_version, request.proposed = flag.version, merged
            request.status, request.reviewed_by, request.reviewed_at = Status.OPEN, None, None
            uow.change_requests.save(request)
            record(uow, principal, "change_request.rebased", "change_request", request.id, request.project_id,
                   now, before, {"baseVersion": request.base_version, "status": request.status.value})
            uow.commit()
            return _reviewed(uow, request)

    def _review(self, principal: Principal, request_id: int, verdict: str, comment: str | None) -> Reviewed:
        principal.require_write()
        note = check_comment(comment, "comment") if comment is not None else None
        now = self._clock()
        with self._uow(write=True) as uow:
            request = _visible(uow, principal, request_id, for_update=True)
            before = request.status.value
            if verdict == "approved":
                request.approve(principal, now)
            else:
                request.reject(principal, now)
            uow.change_requests.save(request)
            if note:
                _add_comment(uow, request, principal, note, now)
            reviewed = _reviewed(uow, request)
            record(uow, principal, f"change_request.{verdict}", "change_request", request.id, request.project_id,
                   now, {"status": before}, {"status": request.status.value})
            announce(uow, request, f"change_request.{verdict}", principal.name, reviewed.diff, now)
            uow.commit()
        return reviewed


def _apply_version(uow: UnitOfWork, request: ChangeRequest, flag: Flag, now: Any) -> None:
    parents_before = parents_of(flag)
    adopt(flag, request.proposed)
    check_linkable_deployments(uow, flag.project_id, flag.deployments, "deployments")
    if flag.parent_dependencies is not None:
        check_parent_dependencies(uow, flag)
    author = Principal(key_id=0, name=request.author, project_ids=None, read_only=False)
    append_version(uow, flag, author, now, approval=Approval(request.reviewed_by or "", request.id))
    version_groups(uow, author, now, changed_parents(parents_before, parents_of(flag)))


def _add_comment(uow: UnitOfWork, request: ChangeRequest, principal: Principal, body: str, now: Any) -> None:
    comment = Comment(author=principal.name, body=body, created_at=now)
    uow.change_requests.add_comment(request.id, comment)
    request.comments.append(comment)
    record(uow, principal, "change_request.commented", "change_request", request.id, request.project_id, now,
           None, {"comment": body})


def _visible(uow: UnitOfWork, principal: Principal, request_id: int, *, for_update: bool = False) -> ChangeRequest:
    request = uow.change_requests.get(request_id, for_update=for_update)
    if request is not None and principal.can_see(request.project_id):
        return request
    if request is not None:
        raise Forbidden(f"this key has no access to change request {request_id}", code="project_forbidden")
    raise NotFound(f"change request {request_id} not found", code="change_request_not_found")


def _flag(uow: UnitOfWork, request: ChangeRequest) -> Flag:
    flag = uow.flags.get(request.flag_id, for_update=True)
    if flag is None:  # flags are archived, never deleted
        raise NotFound(f"{request.kind} {request.flag_id} not found", code="flag_not_found")
    return flag


def _reviewed(uow: UnitOfWork, request: ChangeRequest) -> Reviewed:
    base = uow.versions.get(request.flag_id, request.base_version)
    return Reviewed(request, proposal_diff(request, base.flag_config if base else None))

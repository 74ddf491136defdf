"""The approval gate: a change to a flag or experiment served by a deployment that requires
approval is held for review as a change request instead of becoming a version (ADR 0089).

Every flag write appends its version through `changes.append_version`, which asks
`hold_for_review` first. The gate raises `ApprovalNeeded` carrying the proposal, so the use
case's unit of work rolls back and nothing of the change is written. The services that change
one flag at a time run on `reviewed` units of work, which then store the proposal as a change
request (with its audit record and webhook events) and raise `PendingApproval`: the API's 202.
Anywhere else (a group's members, a project import: changes to several flags in one unit of
work) the same `ApprovalNeeded` reaches the caller as a 409 saying what to do instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, cast

from flagyard.errors import Conflict, PendingApproval
from flagyard.manage.audit import record
from flagyard.manage.model.access import Principal
from flagyard.manage.model.change_requests import (
    ChangeRequest,
    ProposalType,
    change_request_document,
    event_data,
    identity,
    proposal_diff,
)
from flagyard.manage.model.document import BOOKKEEPING
from flagyard.manage.model.flags import Flag
from flagyard.manage.model.schedules import Plan, plan_document
from flagyard.manage.notifications import enqueue
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory

REVIEWED_KINDS = ("flag", "experiment")  # groups are not served by deployments


class ApprovalNeeded(Conflict):
    """The change must be approved first; `request` is the change request it would open."""

    def __init__(self, request: ChangeRequest) -> None:
        super().__init__(
            f"{request.kind} '{request.flag_key}' {_served_by(request.deployments)}. A change that spans several flags cannot be held for review: change "
            f"the {request.kind} on its own (that opens a change request), or use a key created with "
            "--bypass-approvals", code="approval_required")
        self.request = request


def protecting(uow: UnitOfWork, deployment_ids: Collection[int], flag_id: int | None = None) -> list[str]:
    """Labels of the deployments among `deployment_ids` that require approval. Those the flag
    `flag_id` was linked to when read for this write came with it (`read_for_update`): an edit
    that keeps its deployments asks nothing more."""
    read = uow.flags.read_for_update(flag_id) if flag_id is not None else None
    if read is not None and all(deployment_id in read.approval_labels for deployment_id in deployment_ids):
        return sorted(label for deployment_id in set(deployment_ids)
                      if (label := read.approval_labels[deployment_id]) is not None)
    return uow.deployments.labels_requiring_approval(deployment_ids)


def hold_for_review(uow: UnitOfWork, principal: Principal, flag: Flag, before: Mapping[str, Any] | None,
                    document: Mapping[str, Any], now: datetime) -> None:
    """Raise `ApprovalNeeded` if this new version (`document`, replacing `before`) needs approval.

    New flags pass (nothing asks for their key yet, as at the peers); so do the system's own
    writers (a schedule approved when it was made, a bandit). A key made with
    --bypass-approvals passes too, and the audit log says it did."""
    if before is None or flag.kind.value not in REVIEWED_KINDS:
        return
    if principal.bypasses_approval and not principal.key_id:
        return
    labels = protecting(uow, set(flag.deployments) | {int(d) for d in before.get("deployments", [])}, flag.id)
    if not labels:
        return
    if principal.bypasses_approval:
        record(uow, principal, "approval.bypassed", flag.kind.value, flag.id, flag.project_id, now,
               None, {"version": flag.version, "deployments": labels})
        return
    if _same(before, document):
        return  # nothing a reviewer could see changes (restoring the current version, say)
    raise ApprovalNeeded(_request(principal, flag, ProposalType.VERSION, flag.version - 1, dict(document),
                                  labels, now))


def refuse_unreviewable(uow: UnitOfWork, principal: Principal, flag: Flag) -> None:
    """Users and cohorts included in a variant are not part of a version, so a change to them
    cannot be reviewed as a change request: on a protected flag only a bypassing key makes it."""
    if principal.bypasses_approval or flag.kind.value not in REVIEWED_KINDS:
        return
    labels = protecting(uow, flag.deployments)
    if labels:
        raise Conflict(
            f"{flag.kind.value} '{flag.key}' {_served_by(labels)}, and the users or cohorts included in a "
            "variant are not part of a version, so a change to them cannot be reviewed as a change "
            "request: make it with a key created with --bypass-approvals", code="approval_required")


def hold_schedule_for_review(uow: UnitOfWork, principal: Principal, flag: Flag, plan: Plan,
                             now: datetime) -> None:
    """A schedule on a protected flag is approved when it is made, not when it fires."""
    if principal.bypasses_approval or flag.kind.value not in REVIEWED_KINDS:
        return
    labels = protecting(uow, flag.deployments)
    if labels:
        raise ApprovalNeeded(_request(principal, flag, ProposalType.SCHEDULE, flag.version,
                                      plan_document(plan), labels, now))


def reviewed(factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """`factory`'s units of work, except that a change the gate held (`ApprovalNeeded`) is
    stored as a change request once the change itself has rolled back; the caller then gets
    `PendingApproval` naming it."""

    def make(**options: Any) -> UnitOfWork:
        return cast(UnitOfWork, _Reviewed(factory, factory(**options)))

    return make


class _Reviewed:
    def __init__(self, factory: UnitOfWorkFactory, inner: UnitOfWork) -> None:
        self._factory = factory
        self._inner = inner

    def __enter__(self) -> UnitOfWork:
        return self._inner.__enter__()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._inner.__exit__(exc_type, exc, tb)
        if isinstance(exc, ApprovalNeeded):
            request = open_request(self._factory, exc.request)
            raise PendingApproval(
                f"{request.kind} '{request.flag_key}' {_served_by(request.deployments)}: change request {request.id} was opened for someone else to approve",
                change_request_id=request.id) from None


def open_request(factory: UnitOfWorkFactory, request: ChangeRequest) -> ChangeRequest:
    with factory(write=True) as uow:
        uow.change_requests.add(request)
        base = uow.versions.get(request.flag_id, request.base_version)
        diff = proposal_diff(request, base.flag_config if base else None)
        record(uow, request.author, "change_request.opened", "change_request", request.id, request.project_id,
               request.created_at, None, {"flagId": str(request.flag_id), "type": request.type.value,
                                          "baseVersion": request.base_version, "changes": diff})
        announce(uow, request, "change_request.opened", request.author, diff, request.created_at)
        uow.commit()
    return request


def announce(uow: UnitOfWork, request: ChangeRequest, event_type: str, actor: str,
             diff: list[dict[str, Any]], now: datetime) -> None:
    """The request's event for the project's webhooks that want it."""
    hooks = uow.webhooks.for_project(request.project_id)
    if hooks:
        enqueue(uow, hooks, [event_type], request.flag_key,
                event_data(change_request_document(request), actor, diff), now)


def _request(principal: Principal, flag: Flag, type_: ProposalType, base_version: int,
             proposed: dict[str, Any], labels: list[str], now: datetime) -> ChangeRequest:
    return ChangeRequest(project_id=flag.project_id, flag_id=flag.id, flag_key=flag.key, kind=flag.kind.value,
                         type=type_, base_version=base_version, proposed=proposed, author=principal.name,
                         author_identity=identity(principal), created_at=now, deployments=labels)


def _same(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return all(before.get(k) == after.get(k) for k in set(before) | set(after) if k not in BOOKKEEPING)


def _served_by(labels: list[str]) -> str:
    quoted = ", ".join(f"'{label}'" for label in labels)
    if len(labels) == 1:
        return f"is served by deployment {quoted}, which requires approval"
    return f"is served by deployments {quoted}, which require approval"

"""Change requests: a change to a flag or experiment on a deployment that requires approval,
held for review instead of becoming a version.

Pure: what a request holds, the moves it may make (open → approved → applied; open or approved
→ rejected), who may make them, how a request is rebased onto a flag that moved, and its
document. Storing and applying it is the use case's business (manage/change_requests.py).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flagyard.errors import Conflict, Forbidden, Invalid
from flagyard.manage.model.access import Principal
from flagyard.manage.model.document import BOOKKEEPING, iso
from flagyard.manage.model.webhooks import changes

MAX_COMMENT_LENGTH = 10_000


class Status(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"


class ProposalType(StrEnum):
    VERSION = "version"  # a new configuration of the flag: the document it would have
    SCHEDULE = "schedule"  # a schedule (change or ramp) to create on the flag


@dataclass
class Comment:
    author: str
    body: str
    created_at: datetime
    id: int = 0


@dataclass
class ChangeRequest:
    project_id: int
    flag_id: int
    flag_key: str
    kind: str  # "flag" or "experiment": the flag's kind, for its routes
    type: ProposalType
    base_version: int  # the flag's version the proposal was made against
    proposed: dict[str, Any]  # VERSION: the flag's document; SCHEDULE: the schedule's plan
    author: str
    author_identity: str  # who the author is, to refuse their own approval (`identity`)
    created_at: datetime
    deployments: list[str] = field(default_factory=list)  # labels of the protecting deployments
    status: Status = Status.OPEN
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    applied_by: str | None = None
    applied_at: datetime | None = None
    applied_version: int | None = None
    schedule_id: int | None = None
    comments: list[Comment] = field(default_factory=list)
    id: int = 0

    def approve(self, principal: Principal, now: datetime) -> None:
        if identity(principal) == self.author_identity:
            raise Forbidden("you cannot approve your own change request; someone else must review it",
                            code="own_change_request")
        self._require(Status.OPEN, "approved")
        self.status = Status.APPROVED
        self.reviewed_by, self.reviewed_at = principal.name, now

    def reject(self, principal: Principal, now: datetime) -> None:
        self._require((Status.OPEN, Status.APPROVED), "rejected")
        self.status = Status.REJECTED
        self.reviewed_by, self.reviewed_at = principal.name, now

    def ensure_applicable(self, current_version: int | None) -> None:
        """`current_version`: the flag's, for a proposed version; None for a schedule, which is
        checked against the flag as it is when it is applied."""
        self._require(Status.APPROVED, "applied")
        if current_version is not None and current_version != self.base_version:
            raise Conflict(
                f"{self.kind} '{self.flag_key}' has changed since this request was made (it was at "
                f"version {self.base_version}, it is now at version {current_version}); rebase the "
                "change request onto the current version and have it approved again",
                code="stale_change_request")

    def mark_applied(self, principal: Principal, now: datetime, version: int | None) -> None:
        self.status = Status.APPLIED
        self.applied_by, self.applied_at, self.applied_version = principal.name, now, version

    def ensure_rebasable(self) -> None:
        self._require((Status.OPEN, Status.APPROVED), "rebased")

    def _require(self, allowed: Status | tuple[Status, ...], move: str) -> None:
        allowed = allowed if isinstance(allowed, tuple) else (allowed,)
        if self.status not in allowed:
            raise Conflict(f"change request {self.id} is {self.status.value}; only a request that is "
                           f"{' or '.join(s.value for s in allowed)} can be {move}",
                           code="change_request_closed")


def identity(principal: Principal) -> str:
    """One person or one key: a key by its id (names may repeat), a person by their email."""
    return f"key:{principal.key_id}" if principal.key_id else principal.name


def check_comment(body: Any, where: str = "body") -> str:
    if not isinstance(body, str) or not body.strip():
        raise Invalid(f"{where} must be a non-empty text", code="invalid_comment")
    if len(body) > MAX_COMMENT_LENGTH:
        raise Invalid(f"{where} must be at most {MAX_COMMENT_LENGTH} characters", code="invalid_comment")
    return body.strip()


def rebased(base: Mapping[str, Any], proposed: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The proposal moved onto `current`: each top-level field the proposal changed from `base`
    takes its proposed value, the rest is as `current` has it. A field that both the proposal
    and the flag's later versions changed, to different values, is a conflict (409 naming it):
    a person must redo that part."""
    merged = copy.deepcopy(dict(current))
    clashes = []
    for name in sorted(set(base) | set(proposed)):
        if name in BOOKKEEPING or base.get(name) == proposed.get(name):
            continue
        if current.get(name) not in (base.get(name), proposed.get(name)):
            clashes.append(name)
        elif name in proposed:
            merged[name] = copy.deepcopy(proposed[name])
        else:
            merged.pop(name, None)
    if clashes:
        raise Conflict(f"cannot rebase: {', '.join(clashes)} changed both in this request and in the "
                       "versions since; make a new change request from the current version",
                       code="rebase_conflict")
    return merged


def proposal_diff(request: ChangeRequest, base: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """What the request changes, field by field ({path, from, to}); a schedule shows its steps."""
    if request.type is ProposalType.SCHEDULE:
        return [{"path": "schedule", "from": None, "to": request.proposed}]
    return changes(base, request.proposed)


def change_request_document(request: ChangeRequest, diff: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": str(request.id), "projectId": str(request.project_id), "flagId": str(request.flag_id),
        "flagKey": request.flag_key, "kind": request.kind, "type": request.type.value,
        "status": request.status.value,
        "baseVersion": request.base_version, "deployments": list(request.deployments),
        "author": request.author, "createdAt": iso(request.created_at),
        "reviewedBy": request.reviewed_by, "reviewedAt": iso(request.reviewed_at),
        "appliedBy": request.applied_by, "appliedAt": iso(request.applied_at),
        "appliedVersion": request.applied_version,
        "scheduleId": str(request.schedule_id) if request.schedule_id else None,
    }
    if diff is not None:
        document["proposed"] = request.proposed
        document["diff"] = list(diff)
        document["comments"] = [
            {"id": str(c.id), "author": c.author, "body": c.body, "createdAt": iso(c.created_at)}
            for c in request.comments]
    return document


def event_data(document: Mapping[str, Any], actor: str, diff: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a change request's webhook event says (`changes` as in a version's events)."""
    return {"kind": document["kind"], "projectId": document["projectId"], "flagId": document["flagId"],
            "flagKey": document["flagKey"], "actor": actor, "changeRequest": dict(document),
            "changes": list(diff)}

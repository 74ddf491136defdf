"""The audit log: one append-only record per change anywhere and per sign-in attempt.

`before` and `after` hold only what changed (the changed fields by dotted path), so a record
reads as the change itself; a new thing has no `before`, a removed one no `after`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flagyard.manage.model.document import iso


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str  # a person's email, a key's name, or the system's name for itself
    action: str  # "<subject>.<verb>", e.g. flag.updated, key.revoked, user.signed_in
    subject_type: str
    subject_id: str | None
    project_id: int | None
    before: Any = None
    after: Any = None
    client: str | None = None  # the caller's address, when it came over HTTP
    id: int = 0


@dataclass(frozen=True)
class AuditQuery:
    start: datetime | None = None
    end: datetime | None = None
    actor: str | None = None
    action: str | None = None  # a prefix: "flag." matches every flag record
    project_ids: frozenset[int] | None = None  # None: every project (and records of none)


def changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
                   ignore: frozenset[str] = frozenset()) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(before, after) reduced to the fields that differ, nested fields by dotted path."""
    if before is None or after is None:
        return (dict(before) if before is not None else None), (dict(after) if after is not None else None)
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    _walk(before, after, "", old, new, ignore)
    return old, new


def _walk(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str, old: dict[str, Any],
          new: dict[str, Any], ignore: frozenset[str]) -> None:
    for key in list(after) + [k for k in before if k not in after]:
        if not prefix and key in ignore:
            continue
        a, b = before.get(key), after.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            _walk(a, b, f"{prefix}{key}.", old, new, ignore)
        elif a != b:
            old[f"{prefix}{key}"] = a
            new[f"{prefix}{key}"] = b


def audit_document(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": str(record.id), "at": iso(record.at), "actor": record.actor, "action": record.action,
        "subjectType": record.subject_type, "subjectId": record.subject_id,
        "projectId": str(record.project_id) if record.project_id is not None else None,
        "before": record.before, "after": record.after, "client": record.client,
    }

"""Shared steps of every flag write: load under lock with access checks, then record a version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flagyard.manage.approvals import hold_for_review
from flagyard.manage.audit import audit_record, record
from flagyard.manage.model.access import Principal
from flagyard.manage.model.document import BOOKKEEPING, flag_document
from flagyard.manage.model.flags import Flag, Kind, visible_flag
from flagyard.manage.model.versions import Version
from flagyard.manage.notifications import notify_version
from flagyard.manage.ports import UnitOfWork


def load_flag(
    uow: UnitOfWork, principal: Principal, kind: Kind, flag_id: int, *, for_update: bool = False
) -> Flag:
    """The flag, if this key may see it (`visible_flag`)."""
    found = uow.flags.get(flag_id, for_update=True, key_id=principal.key_id) if for_update else uow.flags.get(flag_id)
    return visible_flag(found, principal, kind, flag_id)


def load_for_write(uow: UnitOfWork, principal: Principal, kind: Kind, flag_id: int) -> Flag:
    principal.require_write()
    flag = load_flag(uow, principal, kind, flag_id, for_update=True)
    flag.ensure_editable()
    return flag


def record_change(uow: UnitOfWork, flag: Flag, principal: Principal, now: datetime) -> None:
    """Save the flag and append its next version in the same transaction, then commit."""
    append_version(uow, flag, principal, now)
    uow.commit()


def append_version(uow: UnitOfWork, flag: Flag, principal: Principal, now: datetime, *,
                   approval: Approval | None = None) -> None:
    """Save the flag and append its next version; the caller commits (a write that changes
    several flags, such as a group and its members, commits them together). A change the
    approval gate holds raises `ApprovalNeeded` before anything is written."""
    before = _before(uow, flag)
    flag.version += 1
    flag.last_modified_at = now
    flag.last_modified_by = principal.name
    document = flag_document(flag)
    if approval is None:
        hold_for_review(uow, principal, flag, before, document, now)
    uow.flags.save(flag)
    record(uow, principal, f"{flag.kind.value}.{_verb(before, document)}", flag.kind.value, flag.id,
           flag.project_id, now, before, document, ignore=BOOKKEEPING)
    # Last, as the caller commits next: the bump locks the project's row until the commit, and
    # every writer of the project queues on it (on PostgreSQL; SQLite's lock is the database's).
    # The version goes in with it, and it says whether anyone listens for the events.
    version = Version(
        flag_id=flag.id,
        project_id=flag.project_id,
        version=flag.version,
        created_at=now,
        created_by=principal.name,
        flag_config=document,
        approved_by=approval.approver if approval else None,
        change_request_id=approval.change_request_id if approval else None,
    )
    if uow.projects.bump_revision(flag.project_id, appending=version):
        notify_version(uow, flag, before, document, principal.name, now)


def append_versions(uow: UnitOfWork, changed: Sequence[Flag], principal: Principal,
                    now: datetime) -> None:
    """`append_version` for many flags of one write (a project import): the same approval gate,
    versions, audit records and webhook events, by a few batched statements for any number of
    flags. The gate asks about every flag before anything is written."""
    previous = uow.versions.configs_of([(flag.id, flag.version) for flag in changed if flag.version >= 1])
    added: list[tuple[Flag, dict[str, Any] | None, dict[str, Any]]] = []
    for flag in changed:
        before = previous.get((flag.id, flag.version))
        flag.version += 1
        flag.last_modified_at = now
        flag.last_modified_by = principal.name
        document = flag_document(flag)
        hold_for_review(uow, principal, flag, before, document, now)
        added.append((flag, before, document))
    uow.flags.save_many(changed)
    hooked = {project_id for project_id in dict.fromkeys(flag.project_id for flag in changed)
              if uow.projects.bump_revision(project_id)}
    uow.versions.add_many([
        Version(flag_id=flag.id, project_id=flag.project_id, version=flag.version, created_at=now,
                created_by=principal.name, flag_config=document)
        for flag, _, document in added])
    uow.audit.add_many([
        audit_record(principal, f"{flag.kind.value}.{_verb(before, document)}", flag.kind.value,
                     flag.id, flag.project_id, now, before, document, ignore=BOOKKEEPING)
        for flag, before, document in added])
    for flag, before, document in added:
        if flag.project_id in hooked:
            notify_version(uow, flag, before, document, principal.name, now)


def _before(uow: UnitOfWork, flag: Flag) -> dict[str, Any] | None:
    """The stored document of the flag's current version, None before its first."""
    if flag.version < 1:
        return None
    read = uow.flags.read_for_update(flag.id)
    if read is not None and read.version == flag.version:  # read for this write: it came along
        return read.version_config
    previous = uow.versions.get(flag.id, flag.version)
    return previous.flag_config if previous else None


@dataclass(frozen=True)
class Approval:
    """A version applied from an approved change request."""

    approver: str
    change_request_id: int


def _verb(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    if before is None:
        return "created"
    if after.get("deleted") != before.get("deleted"):
        return "archived" if after.get("deleted") else "unarchived"
    return "updated"

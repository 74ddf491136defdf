"""Recording to the audit log from a use case's unit of work (so a change and its record commit
together), and reading it back for /api/1/audit and the console."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from flagyard.errors import Forbidden, Invalid
from flagyard.manage.model.access import Principal
from flagyard.manage.model.audit import AuditQuery, AuditRecord, changed_fields
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory
from flagyard.request_context import client_address

PAGE = 100
EXPORT_PAGE = 1000


def record(uow: UnitOfWork, actor: str | Principal, action: str, subject_type: str, subject_id: Any,
           project_id: int | None, now: datetime, before: Mapping[str, Any] | None = None,
           after: Mapping[str, Any] | None = None, *, ignore: frozenset[str] = frozenset()) -> None:
    """Append one record: who did `action` to which subject, and what changed."""
    uow.audit.add(audit_record(actor, action, subject_type, subject_id, project_id, now, before,
                               after, ignore=ignore))


def audit_record(actor: str | Principal, action: str, subject_type: str, subject_id: Any,
                 project_id: int | None, now: datetime, before: Mapping[str, Any] | None = None,
                 after: Mapping[str, Any] | None = None, *,
                 ignore: frozenset[str] = frozenset()) -> AuditRecord:
    """The record `record` appends, for a caller that appends many at once."""
    old, new = changed_fields(before, after, ignore)
    return AuditRecord(
        at=now, actor=actor.name if isinstance(actor, Principal) else actor, action=action,
        subject_type=subject_type, subject_id=None if subject_id is None else str(subject_id),
        project_id=project_id, before=old, after=new, client=client_address.get())


class AuditService:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    def page(self, principal: Principal, query: AuditQuery, before_id: int | None,
             limit: int = PAGE) -> list[AuditRecord]:
        """Newest first. A key limited to some projects sees their records only."""
        if not 1 <= limit <= 1000:
            raise Invalid("limit must be from 1 to 1000", code="invalid_limit")
        if query.start and query.end and query.start > query.end:
            raise Invalid("start must not be after end", code="invalid_range")
        if "\x00" in (query.actor or "") + (query.action or ""):
            return []  # no record holds a NUL, and PostgreSQL refuses one in a query
        scoped = AuditQuery(query.start, query.end, query.actor, query.action, principal.project_ids)
        with self._uow(transaction=False) as uow:
            return uow.audit.page(scoped, before_id=before_id, limit=limit)

    def export(self, principal: Principal, query: AuditQuery) -> Iterator[AuditRecord]:
        """Every matching record, newest first, a page at a time (for JSON lines)."""
        if principal.project_ids is not None:
            raise Forbidden("exporting the audit log needs a key for every project", code="audit_export_forbidden")
        before_id = None
        while True:
            page = self.page(principal, query, before_id, EXPORT_PAGE)
            yield from page
            if len(page) < EXPORT_PAGE:
                return
            before_id = page[-1].id

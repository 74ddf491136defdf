"""The audit log: appended to, read newest first. Nothing updates or deletes a row."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from flagyard.manage.model.audit import AuditQuery, AuditRecord
from flagyard.store.tables import audit_log

t = audit_log
# Built once: every write appends a record (see version_repository.py).
_INSERT = sa.insert(t)


class AuditRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def add(self, record: AuditRecord) -> None:
        self._conn.execute(_INSERT, {
            "at": record.at, "actor": record.actor, "action": record.action,
            "subject_type": record.subject_type, "subject_id": record.subject_id,
            "project_id": record.project_id, "before": record.before, "after": record.after,
            "client": record.client})

    def add_many(self, records: Sequence[AuditRecord]) -> None:
        """`add` for many records, in their order, by one batched statement."""
        if records:
            self._conn.execute(_INSERT, [{
                "at": r.at, "actor": r.actor, "action": r.action, "subject_type": r.subject_type,
                "subject_id": r.subject_id, "project_id": r.project_id, "before": r.before,
                "after": r.after, "client": r.client} for r in records])

    def page(self, query: AuditQuery, *, before_id: int | None, limit: int) -> list[AuditRecord]:
        select = sa.select(t).order_by(t.c.id.desc()).limit(limit)
        if before_id is not None:
            select = select.where(t.c.id < before_id)
        if query.start is not None:
            select = select.where(t.c.at >= query.start)
        if query.end is not None:
            select = select.where(t.c.at < query.end)
        if query.actor:
            select = select.where(t.c.actor == query.actor)
        if query.action:
            select = select.where(t.c.action.startswith(query.action, autoescape=True))
        if query.project_ids is not None:
            select = select.where(t.c.project_id.in_(sorted(query.project_ids)))
        return [AuditRecord(at=r.at, actor=r.actor, action=r.action, subject_type=r.subject_type,
                            subject_id=r.subject_id, project_id=r.project_id, before=r.before,
                            after=r.after, client=r.client, id=r.id)
                for r in self._conn.execute(select)]

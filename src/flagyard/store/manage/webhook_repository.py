"""Webhooks, their outbox of deliveries with the attempts log, and job leases."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from flagyard.manage.model.webhooks import Attempt, Delivery, Webhook
from flagyard.store.db import inserted_id
from flagyard.store.tables import experiment_notices, webhook_attempts, webhook_deliveries, webhooks

w, d, a = webhooks, webhook_deliveries, webhook_attempts
# Built once: every flag write asks (see version_repository.py).
_ENABLED_OF_PROJECT = sa.select(w).where(w.c.project_id == sa.bindparam("project_id"), w.c.enabled.is_(True))


class WebhookRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def add(self, hook: Webhook) -> int:
        hook.id = inserted_id(self._conn.execute(sa.insert(w).values(**_values(hook))))
        return hook.id

    def get(self, webhook_id: int) -> Webhook | None:
        row = self._conn.execute(sa.select(w).where(w.c.id == webhook_id)).first()
        return _webhook(row) if row else None

    def save(self, hook: Webhook) -> None:
        self._conn.execute(sa.update(w).where(w.c.id == hook.id).values(**_values(hook)))

    def delete(self, webhook_id: int) -> None:
        # The outbox goes with it: ON DELETE CASCADE is not enforced by every SQLite connection.
        deliveries = sa.select(d.c.id).where(d.c.webhook_id == webhook_id).scalar_subquery()
        self._conn.execute(sa.delete(a).where(a.c.delivery_id.in_(deliveries)))
        self._conn.execute(sa.delete(d).where(d.c.webhook_id == webhook_id))
        self._conn.execute(sa.delete(w).where(w.c.id == webhook_id))

    def page(self, *, project_ids: Collection[int] | None, before_id: int | None, limit: int) -> list[Webhook]:
        query = sa.select(w).order_by(w.c.id.desc()).limit(limit)
        if project_ids is not None:
            query = query.where(w.c.project_id.in_(list(project_ids)))
        if before_id is not None:
            query = query.where(w.c.id < before_id)
        return [_webhook(row) for row in self._conn.execute(query)]

    def for_project(self, project_id: int) -> list[Webhook]:
        return [_webhook(row) for row in self._conn.execute(_ENABLED_OF_PROJECT, {"project_id": project_id})]


def _values(hook: Webhook) -> dict[str, Any]:
    return {"project_id": hook.project_id, "name": hook.name, "url": hook.url, "events": hook.events,
            "flag_keys": hook.flag_keys, "format": hook.format, "secret": hook.secret,
            "enabled": hook.enabled, "created_by": hook.created_by, "created_at": hook.created_at}


def _webhook(row: Any, prefix: str = "") -> Webhook:
    """A webhook from a row of its table, or from a join's columns labelled with `prefix`."""
    v = row._mapping
    return Webhook(project_id=v[f"{prefix}project_id"], url=v[f"{prefix}url"], events=list(v[f"{prefix}events"]),
                   secret=v[f"{prefix}secret"], format=v[f"{prefix}format"], name=v[f"{prefix}name"],
                   flag_keys=list(v[f"{prefix}flag_keys"]), enabled=v[f"{prefix}enabled"],
                   created_by=v[f"{prefix}created_by"], created_at=v[f"{prefix}created_at"], id=v[f"{prefix}id"])


class DeliveryRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def add(self, deliveries: Sequence[Delivery]) -> None:
        self._conn.execute(sa.insert(d), [
            {"webhook_id": x.webhook_id, "message_id": x.message_id, "event_type": x.event_type,
             "body": x.body, "created_at": x.created_at, "next_attempt_at": x.next_attempt_at,
             "attempts": x.attempts, "state": x.state, "last_status": x.last_status}
            for x in deliveries])

    def due(self, now_ms: int, limit: int) -> list[tuple[Delivery, Webhook]]:
        rows = self._conn.execute(
            sa.select(d, *[c.label(f"w_{c.name}") for c in w.c])
            .select_from(d.join(w, w.c.id == d.c.webhook_id))
            .where(d.c.state == "pending", d.c.next_attempt_at <= now_ms)
            .order_by(d.c.next_attempt_at, d.c.id).limit(limit))
        found = [(_delivery(row), _webhook(row, "w_")) for row in rows]
        return found

    def record(self, delivery: Delivery, attempt: Attempt) -> None:
        self._conn.execute(sa.update(d).where(d.c.id == delivery.id).values(
            attempts=delivery.attempts, state=delivery.state, last_status=delivery.last_status,
            next_attempt_at=delivery.next_attempt_at))
        self._conn.execute(sa.insert(a).values(
            delivery_id=attempt.delivery_id, at=attempt.at, status=attempt.status,
            duration_ms=attempt.duration_ms, error=attempt.error))

    def for_webhook(self, webhook_id: int, limit: int) -> list[tuple[Delivery, list[Attempt]]]:
        deliveries = [_delivery(row) for row in self._conn.execute(
            sa.select(d).where(d.c.webhook_id == webhook_id).order_by(d.c.id.desc()).limit(limit))]
        attempts: dict[int, list[Attempt]] = {x.id: [] for x in deliveries}
        if deliveries:
            for row in self._conn.execute(
                    sa.select(a).where(a.c.delivery_id.in_(list(attempts))).order_by(a.c.id)):
                attempts[row.delivery_id].append(
                    Attempt(row.delivery_id, row.at, row.status, row.duration_ms, row.error))
        return [(x, attempts[x.id]) for x in deliveries]


def _delivery(row: Any) -> Delivery:
    return Delivery(webhook_id=row.webhook_id, message_id=row.message_id, event_type=row.event_type,
                    body=row.body, created_at=row.created_at, next_attempt_at=row.next_attempt_at,
                    attempts=row.attempts, state=row.state, last_status=row.last_status, id=row.id)


class LeaseRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def acquire(self, name: str, owner: str, now_ms: int, ttl_ms: int) -> bool:
        """One upsert: it takes a free or expired lease, renews the owner's own, and returns no
        row while another owner's is still running."""
        mark = "%s" if self._conn.dialect.name == "postgresql" else "?"
        row = self._conn.exec_driver_sql(
            f"INSERT INTO job_leases (name, owner, expires_at) VALUES ({mark}, {mark}, {mark}) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
            f"WHERE job_leases.expires_at < {mark} OR job_leases.owner = excluded.owner RETURNING owner",
            (name, owner, now_ms + ttl_ms, now_ms)).first()
        return row is not None



class NoticeRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def first(self, flag_id: int, notice: str, at: datetime) -> bool:
        """An insert that does nothing when the notice was given: a row back means it is new."""
        insert = postgresql_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        statement = (insert(experiment_notices).values(flag_id=flag_id, notice=notice, at=at)
                     .on_conflict_do_nothing().returning(experiment_notices.c.flag_id))
        return self._conn.execute(statement).first() is not None

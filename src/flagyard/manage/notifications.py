"""Events for webhooks, written to the outbox in the transaction of the change that raised them:
a change that rolls back sends nothing, a committed one is sent even after a crash."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flagyard.manage.model.flags import Flag
from flagyard.manage.model.webhooks import (
    Delivery,
    Webhook,
    envelope,
    flag_event_data,
    iso_ms,
    new_message_id,
    slack_text,
    version_events,
    wanted,
)
from flagyard.manage.ports import UnitOfWork

NOTIFIED_KINDS = ("flag", "experiment")  # groups' versions raise no event of their own


def notify_version(uow: UnitOfWork, flag: Flag, before: Mapping[str, Any] | None, document: Mapping[str, Any],
                   actor: str, now: datetime) -> None:
    """The events of a flag's new version, for the webhooks that want them;
    `before` is the previous version's document (None for the first)."""
    kind = flag.kind.value
    if kind not in NOTIFIED_KINDS:
        return
    hooks = uow.webhooks.for_project(flag.project_id)
    if not hooks:
        return
    data = flag_event_data(kind, before, document, actor)
    enqueue(uow, hooks, version_events(kind, before, document), flag.key, data, now)


def enqueue(uow: UnitOfWork, hooks: Sequence[Webhook], event_types: Sequence[str], flag_key: str | None,
            data: Mapping[str, Any], now: datetime) -> list[Delivery]:
    """One delivery per event per webhook that wants it, due at once."""
    at = int(now.timestamp() * 1000)
    deliveries = [delivery(hook, event_type, data, at)
                  for event_type in event_types for hook in wanted(hooks, event_type, flag_key)]
    if deliveries:
        uow.deliveries.add(deliveries)
    return deliveries


def delivery(hook: Webhook, event_type: str, data: Mapping[str, Any], at_ms: int) -> Delivery:
    message_id = new_message_id()
    if hook.format == "slack":
        body: dict[str, Any] = {"text": slack_text(event_type, data)}
    else:
        body = envelope(event_type, message_id, iso_ms(at_ms), data)
    return Delivery(webhook_id=hook.id, message_id=message_id, event_type=event_type,
                    body=json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str),
                    created_at=at_ms, next_attempt_at=at_ms)

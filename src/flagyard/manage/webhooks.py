"""Webhooks: the use cases behind /api/1/webhooks and the console's page. A key sees the
webhooks of its projects; changing them needs a key that may write."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flagyard.clock import Clock, utc_now
from flagyard.errors import Invalid, NotFound
from flagyard.manage.audit import record
from flagyard.manage.model.access import Principal
from flagyard.manage.model.webhooks import (
    Attempt,
    Delivery,
    Webhook,
    check_events,
    check_flag_keys,
    check_format,
    check_url,
    new_secret,
)
from flagyard.manage.notifications import enqueue
from flagyard.manage.ports import UnitOfWorkFactory, WebhookSender

MAX_WEBHOOKS_PER_PROJECT = 50


@dataclass(frozen=True)
class Created:
    webhook: Webhook
    secret: str  # shown once


class WebhookService:
    def __init__(self, uow_factory: UnitOfWorkFactory, sender: WebhookSender, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._sender = sender
        self._clock = clock

    def create(self, principal: Principal, project_id: int, fields: Mapping[str, Any]) -> Created:
        principal.require_write()
        principal.require_project(project_id)
        hook = Webhook(project_id=project_id, url="", events=[], secret=new_secret(),
                       created_by=principal.name, created_at=self._clock())
        self._apply(hook, fields, creating=True)
        with self._uow(write=True) as uow:
            if uow.projects.get(project_id) is None:
                raise NotFound(f"project {project_id} does not exist", code="project_not_found")
            if len(uow.webhooks.page(project_ids=[project_id], before_id=None,
                                     limit=MAX_WEBHOOKS_PER_PROJECT)) >= MAX_WEBHOOKS_PER_PROJECT:
                raise Invalid(f"projectId: at most {MAX_WEBHOOKS_PER_PROJECT} webhooks per project",
                              code="too_many_webhooks")
            uow.webhooks.add(hook)
            record(uow, principal, "webhook.created", "webhook", hook.id, project_id, self._clock(), None, _audited(hook))
            uow.commit()
        return Created(hook, hook.secret)

    def find(self, principal: Principal, project_id: int | None) -> list[Webhook]:
        if project_id is not None:
            principal.require_project(project_id)
        projects = [project_id] if project_id is not None else principal.project_ids
        with self._uow() as uow:
            return uow.webhooks.page(project_ids=projects, before_id=None, limit=1000)

    def get(self, principal: Principal, webhook_id: int) -> Webhook:
        with self._uow() as uow:
            return _visible(uow.webhooks.get(webhook_id), principal, webhook_id)

    def edit(self, principal: Principal, webhook_id: int, fields: Mapping[str, Any]) -> Webhook:
        principal.require_write()
        if not fields:
            raise Invalid("the request body names no field to change", code="empty_edit")
        with self._uow(write=True) as uow:
            hook = _visible(uow.webhooks.get(webhook_id), principal, webhook_id)
            before = _audited(hook)
            self._apply(hook, fields, creating=False)
            uow.webhooks.save(hook)
            record(uow, principal, "webhook.updated", "webhook", hook.id, hook.project_id, self._clock(),
                   before, _audited(hook))
            uow.commit()
        return hook

    def delete(self, principal: Principal, webhook_id: int) -> Webhook:
        principal.require_write()
        with self._uow(write=True) as uow:
            hook = _visible(uow.webhooks.get(webhook_id), principal, webhook_id)
            uow.webhooks.delete(webhook_id)
            record(uow, principal, "webhook.deleted", "webhook", hook.id, hook.project_id, self._clock(),
                   _audited(hook), None)
            uow.commit()
        return hook

    def test(self, principal: Principal, webhook_id: int) -> Delivery:
        """Queue a `webhook.test` delivery to this webhook (whatever events it asks for)."""
        principal.require_write()
        with self._uow(write=True) as uow:
            hook = _visible(uow.webhooks.get(webhook_id), principal, webhook_id)
            probe = replace(hook, events=["webhook.test"], enabled=True, flag_keys=[])
            data = {"webhookId": str(hook.id), "projectId": str(hook.project_id), "actor": principal.name}
            (delivery,) = enqueue(uow, [probe], ["webhook.test"], None, data, self._clock())
            record(uow, principal, "webhook.tested", "webhook", hook.id, hook.project_id, self._clock())
            uow.commit()
        return delivery

    def notify_once(self, flag_id: int, event_type: str, data: Mapping[str, Any]) -> bool:
        """Announce a fact about an experiment's results to the webhooks that want it, the first
        time only (across processes and restarts); whether this call announced it."""
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = uow.flags.get(flag_id)
            if flag is None or not uow.notices.first(flag_id, event_type, now):
                return False
            hooks = uow.webhooks.for_project(flag.project_id)
            enqueue(uow, hooks, [event_type], flag.key, {"kind": flag.kind.value, "projectId": str(flag.project_id),
                                                         "flagId": str(flag.id), "flagKey": flag.key, **data}, now)
            uow.commit()
        return True

    def deliveries(self, principal: Principal, webhook_id: int, limit: int = 50) -> list[tuple[Delivery, list[Attempt]]]:
        if not 1 <= limit <= 500:
            raise Invalid("limit must be from 1 to 500", code="invalid_limit")
        with self._uow() as uow:
            _visible(uow.webhooks.get(webhook_id), principal, webhook_id)
            return uow.deliveries.for_webhook(webhook_id, limit)

    def _apply(self, hook: Webhook, fields: Mapping[str, Any], *, creating: bool) -> None:
        """Check every field before changing any (a refused edit changes nothing)."""
        changes: dict[str, Any] = {}
        if creating or "url" in fields:
            url = check_url(fields.get("url"))
            refusal = self._sender.refusal(url)
            if refusal:
                raise Invalid(f"url {refusal}", code="webhook_target_refused")
            changes["url"] = url
        if creating or "events" in fields:
            changes["events"] = check_events(fields.get("events"))
        if "format" in fields:
            changes["format"] = check_format(fields["format"])
        if "name" in fields:
            name = fields["name"] or ""
            if not isinstance(name, str) or len(name) > 200:
                raise Invalid("name must be at most 200 characters", code="invalid_webhook")
            changes["name"] = name
        if "enabled" in fields:
            if not isinstance(fields["enabled"], bool):
                raise Invalid("enabled must be true or false", code="invalid_webhook")
            changes["enabled"] = fields["enabled"]
        if "filters" in fields:
            filters = fields["filters"] or {}
            unknown = sorted(set(filters) - {"flagKeys"})
            if unknown:
                raise Invalid(f"filters.{unknown[0]} is not a filter; expected flagKeys", code="invalid_webhook")
            changes["flag_keys"] = check_flag_keys(filters.get("flagKeys", []))
        for name, value in changes.items():
            setattr(hook, name, value)


def _visible(hook: Webhook | None, principal: Principal, webhook_id: int) -> Webhook:
    """The webhook, if it exists and is in one of the key's projects (403 otherwise, as flags)."""
    if hook is None:
        raise NotFound(f"webhook {webhook_id} does not exist", code="webhook_not_found")
    principal.require_project(hook.project_id)
    return hook


def _audited(hook: Webhook) -> dict[str, Any]:
    """The webhook as the record keeps it: never its secret."""
    return {"name": hook.name, "url": hook.url, "events": hook.events, "format": hook.format,
            "flagKeys": hook.flag_keys, "enabled": hook.enabled}

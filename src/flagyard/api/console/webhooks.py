"""A project's webhooks: the list and a create form, and one webhook's page with its settings,
a test button and the delivery log.

The forms become the fields /api/1/webhooks takes and go to the same `WebhookService` calls,
which check every value and name the field; a refusal shows that message by the field, nothing
stored. The signing secret is shown once, in the answer to the create form, and never again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.errors import DomainError
from flagyard.manage.model.access import Principal
from flagyard.manage.model.webhooks import (
    EVENT_TYPES,
    FORMATS,
    Webhook,
    delivery_document,
    webhook_document,
)
from flagyard.manage.users import SignedIn

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

DELIVERIES_SHOWN = 50
BLANK_FORM = {"url": "", "name": "", "events": [], "format": "standard", "flagKeys": "", "enabled": True}


def _flag_keys(raw: str) -> list[str]:
    """Flag keys typed one per line or comma separated."""
    return [part.strip() for part in re.split(r"[\n,]", raw) if part.strip()]


def _fields(form: FormData, *, with_enabled: bool) -> dict[str, Any]:
    """The form as the API's body. Every field the form shows is sent: an empty filter is every flag."""
    fields: dict[str, Any] = {
        "url": str(form.get("url") or "").strip(),
        "name": str(form.get("name") or "").strip(),
        "events": [str(event) for event in form.getlist("events")],
        "format": str(form.get("format") or "standard"),
        "filters": {"flagKeys": _flag_keys(str(form.get("flagKeys") or ""))},
    }
    if with_enabled:
        fields["enabled"] = form.get("enabled") == "true"
    return fields


def _typed(form: FormData) -> dict[str, Any]:
    """What was typed, shown again with the refusal so nothing has to be typed twice."""
    return {"url": str(form.get("url") or ""), "name": str(form.get("name") or ""),
            "events": [str(event) for event in form.getlist("events")],
            "format": str(form.get("format") or "standard"), "flagKeys": str(form.get("flagKeys") or ""),
            "enabled": form.get("enabled") == "true"}


def _stored(hook: Webhook) -> dict[str, Any]:
    return {"url": hook.url, "name": hook.name, "events": list(hook.events), "format": hook.format,
            "flagKeys": "\n".join(hook.flag_keys), "enabled": hook.enabled}


def _choices() -> dict[str, Any]:
    return {"event_types": EVENT_TYPES, "formats": FORMATS}


# --- the project's webhooks -------------------------------------------------------------------

def webhooks_page(request: Request, services: ConsoleServices, current: SignedIn, project: str,
                  error: FormError | None = None, form_values: dict[str, Any] | None = None) -> Response:
    ctx = project_context(services, current, project)
    hooks = services.webhooks.find(current.user.principal(), ctx["project"].id)
    return page(request, "webhooks.html", current, error=error, webhooks=[webhook_document(h) for h in hooks],
                form_values=form_values or BLANK_FORM, **_choices(), **ctx)


@router.get("/console/p/{project}/webhooks")
def webhooks(request: Request, services: ConsoleDep, current: SignedInDep, project: str) -> Response:
    return webhooks_page(request, services, current, project)


@router.post("/console/p/{project}/webhooks")
def create_webhook(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                   project: str) -> Response:
    project_id = project_context(services, current, project)["project"].id
    try:
        created = services.webhooks.create(current.user.principal(), project_id, _fields(form, with_enabled=False))
    except DomainError as error:
        return webhooks_page(request, services, current, project, refusal("webhook-new", error), _typed(form))
    # The secret is shown once, in this answer (not in a redirect's URL), and never again.
    return webhook_page(request, services, current, created.webhook.id, secret=created.secret)


# --- one webhook ------------------------------------------------------------------------------

def webhook_page(request: Request, services: ConsoleServices, current: SignedIn, webhook_id: int,
                 error: FormError | None = None, form_values: dict[str, Any] | None = None,
                 secret: str | None = None) -> Response:
    principal = current.user.principal()
    hook = services.webhooks.get(principal, webhook_id)
    log = [delivery_document(delivery, attempts)
           for delivery, attempts in services.webhooks.deliveries(principal, webhook_id, DELIVERIES_SHOWN)]
    return page(request, "webhook.html", current, error=error, webhook=webhook_document(hook),
                deliveries=log, shown=DELIVERIES_SHOWN, secret=secret,
                form_values=form_values or _stored(hook), **_choices(),
                **project_context(services, current, hook.project_id))


def _act(request: Request, services: ConsoleServices, current: SignedIn, id: str, form_id: str,
         change: Callable[[Principal, int], Response], form: FormData | None = None) -> Response:
    """Make one change to a webhook; a refusal is shown on its page in the form `form_id`."""
    webhook_id = path_id(id, "Webhook")
    try:
        return change(current.user.principal(), webhook_id)
    except DomainError as error:
        return webhook_page(request, services, current, webhook_id, refusal(form_id, error),
                            _typed(form) if form is not None else None)


@router.get("/console/webhooks/{id}")
def show(request: Request, services: ConsoleDep, current: SignedInDep, id: str) -> Response:
    return webhook_page(request, services, current, path_id(id, "Webhook"))


@router.post("/console/webhooks/{id}")
def edit(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, id: str) -> Response:
    def change(principal: Principal, webhook_id: int) -> Response:
        services.webhooks.edit(principal, webhook_id, _fields(form, with_enabled=True))
        return done(f"/console/webhooks/{webhook_id}", "Webhook saved")

    return _act(request, services, current, id, "webhook-settings", change, form)


@router.post("/console/webhooks/{id}/test")
def send_test(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
              id: str) -> Response:
    def change(principal: Principal, webhook_id: int) -> Response:
        delivery = services.webhooks.test(principal, webhook_id)
        return done(f"/console/webhooks/{webhook_id}",
                    f"Test delivery {delivery.message_id} queued; reload to see its attempts")

    return _act(request, services, current, id, "webhook-test", change)


@router.post("/console/webhooks/{id}/delete")
def delete(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, id: str) -> Response:
    def change(principal: Principal, webhook_id: int) -> Response:
        hook = services.webhooks.delete(principal, webhook_id)
        return done(f"/console/p/{hook.project_id}/webhooks", f"Webhook {hook.name or hook.url} deleted")

    return _act(request, services, current, id, "webhook-delete", change)

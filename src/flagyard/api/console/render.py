"""Rendering console pages, and turning a refusal into a message next to the field."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse

from flagyard.api.console import charts
from flagyard.api.http.errors import STATUS, describe
from flagyard.errors import DomainError, Invalid
from flagyard.manage.users import SignedIn

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
templates.env.filters["compact_json"] = lambda value: json.dumps(value, ensure_ascii=False)
templates.env.globals["rollout_chart"] = charts.rollout_split
templates.env.globals["activity_chart"] = charts.activity


NAV = ("experiments", "flags", "activity", "debugger", "deployments", "webhooks", "keys", "users", "audit",
       "groups", "cohorts", "dependencies")


@dataclass(frozen=True)
class FormError:
    """A refusal, shown inside the form `form` next to `field` (or atop the form)."""

    form: str
    field: str
    message: str
    status: int


def refusal(form: str, error: DomainError | ValidationError) -> FormError:
    if isinstance(error, ValidationError):
        error = Invalid(describe(dict(error.errors()[0])), code="invalid_field")
    status = next((s for cls, s in STATUS.items() if isinstance(error, cls)), 400)
    return FormError(form, _field_of(error.message), error.message, status)


def _field_of(message: str) -> str:
    head = message.split(" ", 1)[0].rstrip(":")
    parts = [p for p in re.split(r"[.\[\]]", head) if p and not p.isdigit()]
    return parts[-1] if parts else ""


def page(request: Request, template: str, current: SignedIn | None, *, status: int = 200,
         error: FormError | None = None, **context: Any) -> HTMLResponse:
    context.update(
        request=request,
        user=current.user if current else None,
        csrf=current.session.csrf_token if current else "",
        error=error,
        notice=request.query_params.get("done", "")[:200],
        nav=next((name for name in NAV if f"/{name}" in request.url.path), ""),
    )
    return templates.TemplateResponse(request, template, context,
                                      status_code=error.status if error else status)


def done(url: str, message: str) -> RedirectResponse:
    """After a successful write: back to the page (303, so a reload does not resend)."""
    separator = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{separator}done={quote(message)}", status_code=303)

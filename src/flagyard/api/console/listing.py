"""Flags and experiments lists of a project: search, filters, state badges, cursor paging."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, plural_kind, project_context
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.schemas.flags import ExperimentCreateIn, FlagCreateIn
from flagyard.errors import DomainError
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.paging import PageRequest
from flagyard.manage.model.usage import MAX_DAYS, STALE_AFTER_DAYS
from flagyard.manage.ports import FlagQuery

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
PAGE_SIZE = 50
# The staleness filters: which FlagQuery field each choice sets to the number of days.
STALE = {"unused": "not_evaluated_days", "rolled-out": "served_to_everyone_days"}


def _choice(raw: str | None, choices: dict[str, bool | None], default: str) -> tuple[str, bool | None]:
    key = raw if raw in choices else default
    return key, choices[key]


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) <= 10 else None


def _list_page(request: Request, services: ConsoleDep, current: SignedInDep, project: str,
               plural: str, error: FormError | None = None,
               form_values: dict[str, Any] | None = None) -> Response:
    kind = plural_kind(plural)
    ctx = project_context(services, current, project)
    params = request.query_params
    enabled_key, enabled = _choice(params.get("enabled"), {"any": None, "on": True, "off": False}, "any")
    archived_key, archived = _choice(params.get("archived"), {"no": False, "yes": True, "any": None}, "no")
    deployment_id = _int_or_none(params.get("deployment"))
    tag = (params.get("tag") or "").strip() or None
    text = (params.get("q") or "").strip()
    stale = params.get("stale") if params.get("stale") in STALE else ""
    days_text = (params.get("days") or "").strip() or str(STALE_AFTER_DAYS)
    days = _int_or_none(days_text)
    if stale and (days is None or not 1 <= days <= MAX_DAYS):
        error = error or FormError("filters", "days", f"Days must be a whole number from 1 to {MAX_DAYS}", 400)
        stale = ""  # the list is shown unfiltered beside the message
    query = FlagQuery(kind=kind, project_id=ctx["project"].id, text=text, enabled=enabled,
                      archived=archived, deployment_id=deployment_id, tag=tag,
                      **({STALE[stale]: days} if stale else {}))
    result = services.search.page(current.user.principal(), query,
                                  PageRequest(limit=PAGE_SIZE, cursor=_int_or_none(params.get("cursor"))))
    filters = {"q": text, "enabled": enabled_key, "archived": archived_key,
               "deployment": str(deployment_id or ""), "tag": tag or "", "stale": stale,
               "days": days_text[:12] if stale or params.get("days") else ""}
    kept = {k: v for k, v in filters.items() if v and not (k == "enabled" and v == "any")
            and not (k == "archived" and v == "no")}
    next_url = (f"?{urlencode({**kept, 'cursor': result.next_cursor})}"
                if result.next_cursor is not None else None)
    return page(request, "list.html", current, error=error, kind=kind, plural=plural,
                items=[flag_document(f) for f in result.items], filters=filters,
                next_url=next_url, first_url=f"?{urlencode(kept)}" if params.get("cursor") else None,
                form_values=form_values or {}, **ctx)


@router.get("/console/p/{project}/{plural}")
def list_flags(request: Request, services: ConsoleDep, current: SignedInDep, project: str,
               plural: str) -> Response:
    return _list_page(request, services, current, project, plural)


@router.post("/console/p/{project}/{plural}")
def create_flag(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                project: str, plural: str) -> Response:
    kind = plural_kind(plural)
    ctx = project_context(services, current, project)
    body: dict[str, object] = {"projectId": str(ctx["project"].id), "key": str(form.get("key") or "")}
    for field in ("name", "description"):
        if form.get(field):
            body[field] = str(form.get(field))
    deployments = [str(d) for d in form.getlist("deployments") if str(d)]
    if deployments:
        body["deployments"] = deployments
    schema = FlagCreateIn if plural == "flags" else ExperimentCreateIn
    try:
        fields = schema.model_validate(body).fields()
        flag = services.flags.create(current.user.principal(), kind, fields)
    except (DomainError, ValidationError) as error:
        return _list_page(request, services, current, project, plural,
                          error=refusal("create", error), form_values=dict(form))
    return done(f"/console/{plural}/{flag.id}", f"{kind.label} {flag.key} created")

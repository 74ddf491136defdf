"""A flag's schedules from its page: schedule a change or a ramp, cancel one.

The forms become the Management API's schedule body, checked by the API's own schema, and go
to the same service call; a refusal shows the service's message in the form, nothing stored.
Times are typed in UTC (the page says so); a time that carries its own offset keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, plural_kind
from flagyard.api.console.item import RAMP_ROWS, item_page
from flagyard.api.console.pending import held
from flagyard.api.console.render import FormError, done, refusal
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.api.schemas.schedules import ExperimentScheduleIn, FlagScheduleIn
from flagyard.errors import DomainError, PendingApproval
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.schedules import Plan

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

_INTEGER = re.compile(r"-?[0-9]{1,12}")
_RAMP_FIELD = re.compile(r"ramp\[(\d+)\]\.(\w+)")


def _utc(raw: str) -> str:
    """A time from the form: as typed if it names its offset, else read as UTC."""
    raw = raw.strip()
    try:
        naive = datetime.fromisoformat(raw).tzinfo is None
    except ValueError:
        return raw  # the schema names the field
    return f"{raw}Z" if naive else raw


def _number(raw: str) -> Any:
    raw = raw.strip()
    return int(raw) if _INTEGER.fullmatch(raw) else raw


def _plan(kind: Kind, body: dict[str, Any]) -> Plan:
    schema = FlagScheduleIn if kind is Kind.FLAG else ExperimentScheduleIn
    return schema.model_validate(body).plan()


def _change_body(form: FormData) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    percentage = str(form.get("rolloutPercentage") or "").strip()
    if percentage:
        patch["rolloutPercentage"] = _number(percentage)
    enabled = str(form.get("enabled") or "")
    if enabled in ("true", "false"):
        patch["enabled"] = enabled == "true"
    return {"name": str(form.get("name") or ""), "at": _utc(str(form.get("at") or "")), "patch": patch}


def _ramp_rows(form: FormData) -> list[int]:
    """The rows of the ramp form a person filled in."""
    return [row for row in range(RAMP_ROWS)
            if str(form.get(f"at-{row}") or "").strip() or str(form.get(f"percentage-{row}") or "").strip()]


def _ramp_body(form: FormData, rows: list[int]) -> dict[str, Any]:
    steps = [{"at": _utc(str(form.get(f"at-{row}") or "")),
              "rolloutPercentage": _number(str(form.get(f"percentage-{row}") or ""))} for row in rows]
    return {"name": str(form.get("name") or ""), "ramp": steps}


def _ramp_refusal(error: DomainError | ValidationError, rows: list[int]) -> FormError:
    """The refusal beside the input it names: ramp[1].at is the second filled row's time."""
    found = refusal("schedule-ramp", error)
    named = _RAMP_FIELD.search(found.message)
    if named is None or int(named.group(1)) >= len(rows):
        return found
    field = "at" if named.group(2) == "at" else "percentage"
    return FormError(found.form, f"{field}-{rows[int(named.group(1))]}", found.message, found.status)


def _act(request: Request, services: ConsoleDep, current: SignedInDep, plural: str, id: str,
         change: Callable[[Kind, int], str], refused: Callable[[DomainError | ValidationError], FormError]) -> Response:
    kind = plural_kind(plural)
    flag_id = path_id(id, kind.label)
    try:
        message = change(kind, flag_id)
    except PendingApproval as pending:
        return held(f"/console/{plural}/{flag_id}", pending)
    except (DomainError, ValidationError) as error:
        return item_page(request, services, current, plural, flag_id, refused(error))
    return done(f"/console/{plural}/{flag_id}", message)


@router.post("/console/{plural}/{id}/schedules")
def schedule_change(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                    plural: str, id: str) -> Response:
    def change(kind: Kind, flag_id: int) -> str:
        plan = _plan(kind, _change_body(form))
        schedule = services.schedules.create(current.user.principal(), kind, flag_id, plan)
        return f"Change scheduled (schedule {schedule.id})"

    return _act(request, services, current, plural, id, change, lambda e: refusal("schedule-change", e))


@router.post("/console/{plural}/{id}/schedules/ramp")
def schedule_ramp(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                  plural: str, id: str) -> Response:
    rows = _ramp_rows(form)

    def change(kind: Kind, flag_id: int) -> str:
        plan = _plan(kind, _ramp_body(form, rows))
        schedule = services.schedules.create(current.user.principal(), kind, flag_id, plan)
        return f"Ramp scheduled (schedule {schedule.id})"

    return _act(request, services, current, plural, id, change, lambda e: _ramp_refusal(e, rows))


@router.post("/console/{plural}/{id}/schedules/{sid}/cancel")
def cancel(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
           plural: str, id: str, sid: str) -> Response:
    def change(kind: Kind, flag_id: int) -> str:
        schedule_id = path_id(sid, "Schedule")
        services.schedules.cancel(current.user.principal(), kind, flag_id, schedule_id)
        return f"Schedule {schedule_id} cancelled"

    return _act(request, services, current, plural, id, change, lambda e: refusal(f"schedule-{sid}", e))

"""An experiment's lifecycle from its page: start now or at a time, stop, record a decision
that does what it says, start a new run (lifecycle_view.py says which the page offers).

Each form becomes the body of the matching /api/1/experiments/{id}/{start,stop,decision,runs}
route (or, to start later, of its schedules route), checked by the API's schema, and goes to
the same service call; a refusal shows the service's message next to its field and nothing
changes; a step held for approval goes back to the page naming its change request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute
from flagyard.api.console.item import item_page
from flagyard.api.console.pending import held
from flagyard.api.console.render import done, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.api.schemas.lifecycle import DecisionIn, NewRunIn
from flagyard.api.schemas.schedules import ExperimentScheduleIn
from flagyard.errors import DomainError, PendingApproval
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Kind
from flagyard.manage.users import SignedIn

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

PATH = "/console/experiments/{id}/lifecycle"


def _page(flag_id: int) -> str:
    return f"/console/experiments/{flag_id}"


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _utc(raw: str) -> str:
    """A time from a datetime-local input (no offset) read as UTC, as the page says."""
    try:
        naive = datetime.fromisoformat(raw).tzinfo is None
    except ValueError:
        return raw  # the schema names the field
    return f"{raw}Z" if naive else raw


def _act(request: Request, services: ConsoleServices, current: SignedIn, form: FormData, id: str,
         form_id: str, change: Callable[[Principal, int], tuple[str, str]]) -> Response:
    """Run `change` (→ where to go, what to say); a refusal is the page with its message by
    its field, and the form as it was typed."""
    flag_id = path_id(id, Kind.EXPERIMENT.label)
    try:
        url, message = change(current.user.principal(), flag_id)
    except PendingApproval as pending:
        return held(_page(flag_id), pending)
    except (DomainError, ValidationError) as error:
        typed = {name: str(value) for name, value in form.items() if name != "csrf_token"}
        return item_page(request, services, current, "experiments", flag_id, refusal(form_id, error), typed)
    return done(url, message)


@router.post(f"{PATH}/start")
def start(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
          id: str) -> Response:
    def change(principal: Principal, flag_id: int) -> tuple[str, str]:
        flag = services.lifecycle.start(principal, flag_id)
        return _page(flag_id), f"Experiment {flag.key} started: it is {flag.state}"

    return _act(request, services, current, form, id, "lifecycle-start", change)


@router.post(f"{PATH}/start-at")
def start_at(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
             id: str) -> Response:
    at = _utc(_text(form, "at"))

    def change(principal: Principal, flag_id: int) -> tuple[str, str]:
        # The schedule the API documents for a later start: enabled, with that start date.
        plan = ExperimentScheduleIn.model_validate(
            {"name": "Start", "at": at, "patch": {"enabled": True, "startDate": at}}).plan()
        schedule = services.schedules.create(principal, Kind.EXPERIMENT, flag_id, plan)
        return _page(flag_id), f"Start scheduled for {at} (schedule {schedule.id})"

    return _act(request, services, current, form, id, "lifecycle-start-at", change)


@router.post(f"{PATH}/stop")
def stop(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
         id: str) -> Response:
    def change(principal: Principal, flag_id: int) -> tuple[str, str]:
        flag = services.lifecycle.stop(principal, flag_id)
        return _page(flag_id), f"Experiment {flag.key} stopped: record a decision"

    return _act(request, services, current, form, id, "lifecycle-stop", change)


@router.post(f"{PATH}/decision")
def decide(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
           id: str) -> Response:
    decision = _text(form, "decision")
    # The variant menu is sent whatever is chosen; only a rollout names a variant.
    body = {"decision": decision, "variant": _text(form, "variant") if decision == "rollout" else None,
            "reason": _text(form, "reason") or None}

    def change(principal: Principal, flag_id: int) -> tuple[str, str]:
        checked = DecisionIn.model_validate(body)
        flag = services.lifecycle.decide(principal, flag_id, checked.decision, checked.variant, checked.reason)
        what = f"roll out {flag.rolled_out_variant}" if flag.rolled_out_variant else checked.decision
        return _page(flag_id), f"Decision recorded: {what}. The experiment is {flag.state}"

    return _act(request, services, current, form, id, "lifecycle-decision", change)


@router.post(f"{PATH}/runs")
def new_run(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
            id: str) -> Response:
    body = {"key": _text(form, "key"), "name": _text(form, "name") or None,
            "newBucketingSalt": _text(form, "newBucketingSalt") == "true"}

    def change(principal: Principal, flag_id: int) -> tuple[str, str]:
        checked = NewRunIn.model_validate(body)
        run = services.lifecycle.new_run(principal, flag_id, checked.key, new_salt=checked.new_bucketing_salt,
                                         name=checked.name)
        # As the API's route does: the metrics and analysis settings follow once the run exists.
        services.results.copy_design(principal, flag_id, run.id)
        salt = "a new bucketing salt" if checked.new_bucketing_salt else "the same bucketing salt"
        return _page(run.id), f"New run {run.key} created in planning, with {salt}, its metrics and analysis settings"

    return _act(request, services, current, form, id, "lifecycle-run", change)

"""One flag or experiment: its page, and every change a person makes from it.

Each form becomes the Management API's request body and is checked by the API's own schema,
then handed to the same service the API calls; a refusal shows the API's message in the form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, plural_kind, project_context
from flagyard.api.console.dependency_view import flag_dependencies
from flagyard.api.console.groups import experiment_groups
from flagyard.api.console.lifecycle_view import lifecycle_view
from flagyard.api.console.pending import held
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.api.schemas.flags import (
    DeploymentLinksIn,
    ExperimentPatchIn,
    FlagPatchIn,
    InclusionsIn,
    RolloutWeightsIn,
    VariantIn,
    VariantPatchIn,
)
from flagyard.errors import DomainError, Invalid, NotFound, PendingApproval
from flagyard.manage.change_requests import RequestFilter
from flagyard.manage.model.access import Principal
from flagyard.manage.model.change_requests import ChangeRequest, Status
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.model.paging import PageRequest
from flagyard.manage.model.schedules import schedule_document
from flagyard.manage.model.targeting import CONDITION_OPS
from flagyard.manage.model.usage import STALE_AFTER_DAYS
from flagyard.manage.users import SignedIn

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

OPERATORS = list(CONDITION_OPS)
COMMON_PROPERTIES = ("user_id", "device_id", "country", "city", "region", "language", "platform",
                     "os", "version", "device_model", "carrier", "cohort_ids")
SHOWN_INCLUSIONS = 100  # a variant may include a million ids; the page lists the first ones
RAMP_ROWS = 5  # the schedule form's ramp steps; empty rows are left out
_INTEGER = re.compile(r"-?[0-9]{1,12}")
SHOWN_CHANGE_REQUESTS = 20  # the open and approved ones; the change requests page has them all


def item_page(request: Request, services: ConsoleServices, current: SignedIn, plural: str,
              flag_id: int, error: FormError | None = None, typed: dict[str, str] | None = None) -> Response:
    """`typed`: what the refused form held, for the forms that show it again."""
    kind = plural_kind(plural)
    principal = current.user.principal()
    flag = services.flags.get(principal, kind, flag_id)
    inclusions: dict[str, dict[str, list[str]]] = {
        variant.key: {which: services.variants.inclusions(principal, kind, flag.id, variant.key, which)
                      for which in ("users", "cohorts")}
        for variant in flag.variants
    }
    schedules = [schedule_document(s) for s in services.schedules.for_flag(principal, kind, flag.id)]
    groups = experiment_groups(services, principal, flag) if kind is Kind.EXPERIMENT else []
    return page(request, "item.html", current, error=error, kind=kind, plural=plural,
                flag=flag_document(flag), inclusions=inclusions, shown=SHOWN_INCLUSIONS, operators=OPERATORS,
                properties=COMMON_PROPERTIES, schedules=schedules, ramp_rows=RAMP_ROWS, groups=groups,
                change_requests=awaiting(services, principal, flag.id),
                dependencies=flag_dependencies(services, current, flag),
                lifecycle=lifecycle_view(services, principal, flag, schedules) if kind is Kind.EXPERIMENT else None,
                usage=services.usage.usage(principal, kind, flag.id), stale_after=STALE_AFTER_DAYS,
                typed=typed or {},
                **project_context(services, current, flag.project_id))


def awaiting(services: ConsoleServices, principal: Principal, flag_id: int) -> list[ChangeRequest]:
    """The flag's change requests still to be reviewed or applied, newest first."""
    filters = RequestFilter(flag_id=flag_id, statuses=[Status.OPEN, Status.APPROVED])
    return services.change_requests.page(principal, filters, PageRequest(limit=SHOWN_CHANGE_REQUESTS)).items


@router.get("/console/{plural}/{id}")
def show(request: Request, services: ConsoleDep, current: SignedInDep, plural: str, id: str) -> Response:
    return item_page(request, services, current, plural, path_id(id, plural_kind(plural).label))


@router.post("/console/{plural}/{id}/{action:path}")
def act(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, plural: str,
        id: str, action: str) -> Response:
    kind = plural_kind(plural)
    flag_id = path_id(id, kind.label)
    form_id, change = _route(action)
    principal = current.user.principal()
    try:
        flag = services.flags.get(principal, kind, flag_id)
        message = change(Edit(services, principal, kind, flag, form))
    except PendingApproval as pending:
        return held(f"/console/{plural}/{flag_id}", pending)
    except (DomainError, ValidationError) as error:
        return item_page(request, services, current, plural, flag_id, refusal(form_id, error))
    return done(f"/console/{plural}/{flag_id}", message)


# --- the changes ------------------------------------------------------------------------------


class Edit:
    """One submitted form against one flag."""

    def __init__(self, services: ConsoleServices, principal: Principal, kind: Kind, flag: Flag,
                 form: FormData) -> None:
        self.services, self.principal, self.kind, self.flag, self.form = services, principal, kind, flag, form

    def text(self, name: str) -> str:
        return str(self.form.get(name) or "")

    def patch(self, body: dict[str, Any]) -> None:
        schema = FlagPatchIn if self.kind is Kind.FLAG else ExperimentPatchIn
        self.services.flags.edit(self.principal, self.kind, self.flag.id, schema.model_validate(body).edits())


def _number(raw: str) -> Any:
    """A number typed in a form; anything else goes to the schema as text, which names the field."""
    raw = raw.strip()
    return int(raw) if _INTEGER.fullmatch(raw) else raw


def _ids(raw: str) -> list[str]:
    return [part.strip() for part in re.split(r"[\n,]", raw) if part.strip()]


def _payload(raw: str) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as error:
        raise Invalid(f"payload is not valid JSON: {error}", code="invalid_json") from None


def set_enabled(edit: Edit) -> str:
    enabled = edit.text("enabled") == "true"
    edit.patch({"enabled": enabled})
    return "Enabled" if enabled else "Disabled"


def set_archived(edit: Edit) -> str:
    archive = edit.text("archive") == "true"
    edit.patch({"archive": archive})
    return "Archived" if archive else "Unarchived"


def settings(edit: Edit) -> str:
    body: dict[str, Any] = {
        "name": edit.text("name"),
        "description": edit.text("description"),
        "rolloutPercentage": _number(edit.text("rolloutPercentage")),
        "evaluationMode": edit.text("evaluationMode") or edit.flag.evaluation_mode,
        "bucketingKey": edit.text("bucketingKey"),
        "tags": _ids(edit.text("tags")),
    }
    edit.patch(body)
    return "Settings saved"


def weights(edit: Edit) -> str:
    body = {"rolloutWeights": {v.key: _number(edit.text(f"weight.{v.key}")) for v in edit.flag.variants}}
    checked = RolloutWeightsIn.model_validate(body)
    edit.services.flags.set_rollout_weights(edit.principal, edit.kind, edit.flag.id, checked.rollout_weights)
    return "Weights saved"


def _variant_body(edit: Edit) -> dict[str, Any]:
    return {
        "key": edit.text("key"),
        "name": edit.text("name"),
        "description": edit.text("description"),
        "payload": _payload(edit.text("payload")),
        "rolloutWeight": _number(edit.text("rolloutWeight") or "1"),
    }


def add_variant(edit: Edit) -> str:
    body = VariantIn.model_validate(_variant_body(edit))
    edit.services.variants.create(edit.principal, edit.kind, edit.flag.id, body.model_dump())
    return f"Variant {body.key} added"


def edit_variant(key: str) -> Callable[[Edit], str]:
    def change(edit: Edit) -> str:
        body = VariantPatchIn.model_validate(_variant_body(edit))
        edit.services.variants.edit(edit.principal, edit.kind, edit.flag.id, key, body.changes())
        return f"Variant {body.key} saved"
    return change


def remove_variant(key: str) -> Callable[[Edit], str]:
    def change(edit: Edit) -> str:
        edit.services.variants.remove(edit.principal, edit.kind, edit.flag.id, key)
        return f"Variant {key} removed"
    return change


def _segment_from_form(edit: Edit, existing: dict[str, Any] | None) -> dict[str, Any]:
    props, ops, values = (edit.form.getlist(name) for name in ("prop", "op", "values"))
    conditions = [
        {"type": "property", "prop": str(prop).strip(), "op": str(op), "values": _lines(str(value))}
        for prop, op, value in zip(props, ops, values, strict=False)
        if str(prop).strip()
    ]
    segment: dict[str, Any] = {
        "name": edit.text("segmentName"),
        "conditions": conditions,
        "percentage": _number(edit.text("percentage")),
        "rolloutWeights": {v.key: _number(edit.text(f"weight.{v.key}") or "0") for v in edit.flag.variants},
    }
    if existing and "bucketingKey" in existing:
        segment["bucketingKey"] = existing["bucketingKey"]
    return segment


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.splitlines() if line.strip()]


def add_segment(edit: Edit) -> str:
    segments = [*edit.flag.target_segments, _segment_from_form(edit, None)]
    edit.patch({"targetSegments": segments})
    return "Segment added"


def _segment_index(edit: Edit, raw: str) -> int:
    if not raw.isdigit() or int(raw) >= len(edit.flag.target_segments):
        raise NotFound(f"segment {raw} not found", code="segment_not_found")
    return int(raw)


def save_segment(raw: str) -> Callable[[Edit], str]:
    def change(edit: Edit) -> str:
        index = _segment_index(edit, raw)
        segments = list(edit.flag.target_segments)
        segments[index] = _segment_from_form(edit, segments[index])
        edit.patch({"targetSegments": segments})
        return "Segment saved"
    return change


def remove_segment(raw: str) -> Callable[[Edit], str]:
    def change(edit: Edit) -> str:
        index = _segment_index(edit, raw)
        segments = [s for i, s in enumerate(edit.flag.target_segments) if i != index]
        edit.patch({"targetSegments": segments})
        return "Segment removed"
    return change


def include(key: str, which: str) -> Callable[[Edit], str]:
    def change(edit: Edit) -> str:
        body = InclusionsIn.model_validate({"inclusions": _ids(edit.text("ids"))})
        if not body.inclusions:
            raise Invalid("inclusions must name at least one id", code="invalid_field")
        edit.services.variants.include(edit.principal, edit.kind, edit.flag.id, key, which,  # type: ignore[arg-type]
                                       body.inclusions)
        return f"{len(body.inclusions)} {which} included in {key}"
    return change


def exclude(key: str, which: str) -> Callable[[Edit], str]:
    def change(edit: Edit) -> str:
        value = edit.text("id")
        edit.services.variants.bulk_remove(edit.principal, edit.kind, edit.flag.id, key, which,  # type: ignore[arg-type]
                                           [value])
        return f"{value} removed from {key}"
    return change


def link_deployment(edit: Edit) -> str:
    body = DeploymentLinksIn.model_validate({"deployments": [edit.text("deployment")]})
    edit.services.deployments.link(edit.principal, edit.kind, edit.flag.id, body.deployments)
    return "Deployment added"


def unlink_deployment(raw: str) -> Callable[[Edit], str]:
    def change(edit: Edit) -> str:
        edit.services.deployments.unlink(edit.principal, edit.kind, edit.flag.id, path_id(raw, "Deployment"))
        return "Deployment removed"
    return change


def _route(action: str) -> tuple[str, Callable[[Edit], str]]:
    """The form an action belongs to (where its refusal is shown) and the change it makes."""
    fixed: dict[str, tuple[str, Callable[[Edit], str]]] = {
        "enabled": ("enabled", set_enabled),
        "archive": ("archive", set_archived),
        "settings": ("settings", settings),
        "weights": ("weights", weights),
        "variants": ("variant-new", add_variant),
        "segments": ("segment-new", add_segment),
        "deployments": ("deployments", link_deployment),
    }
    if action in fixed:
        return fixed[action]
    parts = action.split("/")
    match parts:
        case ["variants", key]:
            return f"variant-{key}", edit_variant(key)
        case ["variants", key, "delete"]:
            return f"variant-{key}", remove_variant(key)
        case ["segments", index]:
            return f"segment-{index}", save_segment(index)
        case ["segments", index, "delete"]:
            return f"segment-{index}", remove_segment(index)
        case ["inclusions", key, ("users" | "cohorts") as which]:
            return f"{which}-{key}", include(key, which)
        case ["inclusions", key, ("users" | "cohorts") as which, "remove"]:
            return f"{which}-{key}", exclude(key, which)
        case ["deployments", deployment, "remove"]:
            return "deployments", unlink_deployment(deployment)
    raise NotFound("no such action", code="not_found")

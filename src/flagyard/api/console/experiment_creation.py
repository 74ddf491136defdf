"""A new experiment designed in one form: key, name, hypothesis, variants and weights,
deployments, bucketing, the all-users rollout, the exposure event and the metrics with roles.

The form becomes the bodies of `POST /api/1/experiments` (with the exposure event `PATCH` takes)
and `PUT /api/1/experiments/{id}/metrics`, checked by the API's schemas. The metrics are then
checked by the same pure rules `ResultsService.set_metrics` applies, before anything is written:
the experiment is created (one version) only when its metrics will be accepted too, so a refused
metric leaves no experiment behind (ADR 0104). A refusal shows the message next to its field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.schemas.flags import ExperimentCreateIn, ExperimentPatchIn
from flagyard.api.schemas.results import MetricsIn
from flagyard.errors import DomainError, Invalid
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.rules import new_salt
from flagyard.manage.users import SignedIn
from flagyard.measure.model.metrics import (
    Direction,
    MetricKind,
    Role,
    check_metric_list,
    metric_from_fields,
    with_primary,
)

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

PATH = "/console/p/{project}/experiments/new"
VARIANT_ROWS = 4  # rows left empty are ignored; more variants are added on the experiment's page
METRIC_ROWS = 4
DEFAULT_VARIANTS = ("control", "treatment")
BUCKETING_KEYS = ("amplitude_id", "user_id", "device_id")
# The metric rows' menus: (value sent, words shown).
MEASURES = (("", "automatic"), (MetricKind.CONVERSION.value, "conversion"),
            (MetricKind.MEAN.value, "mean"), (MetricKind.COUNT.value, "count"))
ROLES = tuple((role.value, role.value) for role in Role)
DIRECTIONS = ((Direction.INCREASE.value, "increases"), (Direction.DECREASE.value, "decreases"))
# Inputs a refusal can be shown next to; any other refusal is shown atop the form.
KNOWN_FIELDS = [
    "key", "name", "description", "variants", "deployments", "rolloutPercentage", "bucketingKey",
    "bucketingSalt", "exposureEvent", "metrics",
    *(f"variant-{row}-{name}" for row in range(VARIANT_ROWS) for name in ("key", "name", "rolloutWeight", "payload")),
    *(f"metric-{row}-{name}" for row in range(METRIC_ROWS)
      for name in ("eventType", "property", "kind", "role", "direction", "nonInferiorityMargin")),
]
_INTEGER = re.compile(r"-?[0-9]{1,12}")
_ROW_FIELD = re.compile(r"^(variants|metrics)\[(\d+)\](?:\.(\w+))?")


@dataclass(frozen=True)
class Design:
    """The form read as the API's bodies."""

    experiment: dict[str, Any]
    exposure_event: dict[str, Any] | None
    metrics: list[dict[str, Any]]


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _number(raw: str) -> Any:
    """A typed whole number; anything else goes to the schema as typed, which names the field."""
    return int(raw) if _INTEGER.fullmatch(raw) else raw


def _fraction(raw: str) -> Any:
    """A margin typed in percent, as the fraction the API takes (5 → 0.05)."""
    try:
        return float(Decimal(raw.rstrip("%").strip()) / 100)
    except InvalidOperation:
        return raw


def _variant_rows(form: FormData) -> list[int]:
    return [row for row in range(VARIANT_ROWS)
            if any(_text(form, f"variant-{row}-{name}") for name in ("key", "name", "payload"))]


def _metric_rows(form: FormData) -> list[int]:
    return [row for row in range(METRIC_ROWS)
            if any(_text(form, f"metric-{row}-{name}") for name in ("eventType", "property", "nonInferiorityMargin"))]


def _variant(form: FormData, row: int, index: int) -> dict[str, Any]:
    prefix = f"variant-{row}-"
    variant: dict[str, Any] = {"key": _text(form, prefix + "key"),
                               "rolloutWeight": _number(_text(form, prefix + "rolloutWeight") or "1")}
    if _text(form, prefix + "name"):
        variant["name"] = _text(form, prefix + "name")
    payload = _text(form, prefix + "payload")
    if payload:
        try:
            variant["payload"] = json.loads(payload)
        except ValueError as error:
            raise Invalid(f"variants[{index}].payload is not valid JSON: {error}", code="invalid_json") from None
    return variant


def _metric(form: FormData, row: int) -> dict[str, Any]:
    prefix = f"metric-{row}-"
    margin = _text(form, prefix + "nonInferiorityMargin")
    return {"eventType": _text(form, prefix + "eventType"), "property": _text(form, prefix + "property") or None,
            "kind": _text(form, prefix + "kind") or None, "role": _text(form, prefix + "role") or None,
            "direction": _text(form, prefix + "direction") or None,
            "nonInferiorityMargin": _fraction(margin) if margin else None}


def read_design(form: FormData, project_id: int) -> Design:
    """The form as the API's bodies; `Invalid` for what cannot even be sent (bad JSON)."""
    variant_rows, metric_rows = _variant_rows(form), _metric_rows(form)
    experiment: dict[str, Any] = {
        "projectId": str(project_id), "key": _text(form, "key"),
        "bucketingKey": _text(form, "bucketingKey"), "bucketingSalt": _text(form, "bucketingSalt"),
        "rolloutPercentage": _number(_text(form, "rolloutPercentage")),
        "deployments": [str(d) for d in form.getlist("deployments") if str(d)],
    }
    for name in ("name", "description"):  # empty: the key, and no hypothesis
        if _text(form, name):
            experiment[name] = _text(form, name)
    if variant_rows:  # none: the defaults, control and treatment
        experiment["variants"] = [_variant(form, row, n) for n, row in enumerate(variant_rows)]
    exposure = _text(form, "exposureEvent")
    return Design(experiment=experiment,
                  exposure_event={"event_type": exposure, "filters": []} if exposure else None,
                  metrics=[_metric(form, row) for row in metric_rows])


def checked_fields(design: Design) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The experiment's fields and its metrics, as the services take them, refused (nothing
    written) by the API's schemas and by the rules `set_metrics` applies to metrics."""
    fields = ExperimentCreateIn.model_validate(design.experiment).fields()
    if design.exposure_event is not None:
        fields.update(ExperimentPatchIn.model_validate({"exposureEvent": design.exposure_event}).edits())
    metrics = [m.model_dump() for m in MetricsIn.model_validate({"metrics": design.metrics}).metrics]
    parsed = [metric_from_fields(item, f"metrics[{n}]") for n, item in enumerate(metrics)]
    check_metric_list(parsed)
    with_primary(parsed, roles_given=any(item.get("role") is not None for item in metrics))
    return fields, metrics


def create(services: ConsoleServices, current: SignedIn, design: Design) -> tuple[str, int]:
    """The experiment, then its metrics (already checked): its key and how many metrics."""
    fields, metrics = checked_fields(design)
    principal = current.user.principal()
    flag = services.flags.create(principal, Kind.EXPERIMENT, fields)
    if metrics:
        services.results.set_metrics(principal, flag.id, metrics)
    return f"/console/experiments/{flag.id}", len(metrics)


def placed(error: DomainError | ValidationError, form: FormData) -> FormError:
    """The refusal beside the input it names: metrics[1].role is the second filled metric
    row's role; an exposure event's fields are its one input."""
    found = refusal("create", error)
    if found.message.startswith("exposureEvent"):
        return FormError(found.form, "exposureEvent", found.message, found.status)
    named = _ROW_FIELD.match(found.message)
    if named is None:
        return found
    rows = _variant_rows(form) if named.group(1) == "variants" else _metric_rows(form)
    if int(named.group(2)) >= len(rows):
        return found
    noun = "variant" if named.group(1) == "variants" else "metric"
    field = named.group(3) or ("key" if noun == "variant" else "eventType")
    message = found.message
    if field == "nonInferiorityMargin":
        message += " — typed here in percent: 5 means 0.05"
    return FormError(found.form, f"{noun}-{rows[int(named.group(2))]}-{field}", message, found.status)


def _form_page(request: Request, services: ConsoleServices, current: SignedIn, project: str,
               form: FormData | None = None, error: FormError | None = None) -> Response:
    ctx = project_context(services, current, project)
    if form is None:
        values: dict[str, str] = {"bucketingKey": BUCKETING_KEYS[0], "bucketingSalt": new_salt(),
                                  "rolloutPercentage": "100"}
        for row in range(VARIANT_ROWS):
            values[f"variant-{row}-key"] = DEFAULT_VARIANTS[row] if row < len(DEFAULT_VARIANTS) else ""
            values[f"variant-{row}-rolloutWeight"] = "1"
        chosen: list[str] = []  # where it is served is chosen, never assumed
    else:
        values = {name: str(value) for name, value in form.items() if name != "deployments"}
        chosen = [str(d) for d in form.getlist("deployments")]
    return page(request, "experiment_new.html", current, error=error, kind=Kind.EXPERIMENT,
                plural="experiments", values=values, chosen=chosen, variant_rows=range(VARIANT_ROWS),
                metric_rows=range(METRIC_ROWS), bucketing_keys=BUCKETING_KEYS, known_fields=KNOWN_FIELDS,
                measures=MEASURES, roles=ROLES, directions=DIRECTIONS, **ctx)


@router.get(PATH)
def new_experiment(request: Request, services: ConsoleDep, current: SignedInDep, project: str) -> Response:
    current.user.require_write()  # a viewer has nothing to fill in
    return _form_page(request, services, current, project)


@router.post(PATH)
def create_experiment(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                      project: str) -> Response:
    ctx = project_context(services, current, project)
    try:
        design = read_design(form, ctx["project"].id)
        url, metrics = create(services, current, design)
    except (DomainError, ValidationError) as error:
        return _form_page(request, services, current, project, form, placed(error, form))
    counted = f"{metrics} metric{'' if metrics == 1 else 's'}" if metrics else "no metric yet"
    return done(url, f"Experiment {design.experiment['key']} created in planning, with {counted}")

"""An experiment's results page: per-variant results of a stored metric and their difference
from control over time, the guardrails, the sample ratio check, how the results are analysed
(and the record of changes to it), exposures over time, the experiment's metrics, and the decision.

Every number comes from `ResultsService`, the service behind /api/1/experiments/{id}/results,
/analysis and /exposures; the metric and decision forms become the Management API's bodies
(`MetricsIn`, `ExperimentPatchIn`) and go to the same calls as `PUT .../metrics` and
`PATCH .../{id}`; the analysis form goes to the call behind `PUT .../analysis`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from flagyard.api.console.charts import PALETTE
from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.pending import held
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.results_charts import (
    difference_over_time,
    exposures_over_time,
    variant_values,
)
from flagyard.api.console.results_view import (
    ALLOCATION_WORDS,
    CORRECTION_WORDS,
    REALLOCATION_WORDS,
    TEST_WORDS,
    analysis_facts,
    change_summary,
    guardrail_cards,
    harms,
    interval_label,
    level_text,
    metric_formatter,
    nobody_did,
    over_time_rows,
    percent_input,
    result_rows,
    srm_summary,
)
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.api.schemas.flags import ExperimentPatchIn
from flagyard.api.schemas.results import MetricsIn
from flagyard.errors import DomainError, Invalid, PendingApproval
from flagyard.manage.model.access import Principal
from flagyard.manage.model.document import flag_document, iso
from flagyard.manage.model.flags import Kind
from flagyard.manage.users import SignedIn
from flagyard.measure.duration import DurationPlan
from flagyard.measure.model.analysis import AnalysisSettings, analysis_document
from flagyard.measure.model.metrics import Direction, Metric, MetricKind, Role
from flagyard.measure.ports import AnalysisChange
from flagyard.measure.results import MetricQuery

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

INTERVALS = ("day", "hour")
DECISIONS = ("rollout", "rollback", "continue-running")
CHANGES_SHOWN = 10
# Fields typed in percent on the page and sent as fractions, with an example for messages.
PERCENT_EXAMPLES = {"confidenceLevel": "95", "sequentialEffect": "5", "nonInferiorityMargin": "5"}


def _url(flag_id: int, metric: str = "", interval: str = "") -> str:
    query = {name: value for name, value in (("metric", metric), ("interval", interval)) if value}
    return f"/console/experiments/{flag_id}/results" + (f"?{urlencode(query)}" if query else "")


def results_page(request: Request, services: ConsoleServices, current: SignedIn, flag_id: int,
                 error: FormError | None = None, form_values: dict[str, str] | None = None) -> Response:
    principal = current.user.principal()
    flag = services.flags.get(principal, Kind.EXPERIMENT, flag_id)
    params = request.query_params
    metrics = services.results.metrics(principal, flag_id)
    chosen = _chosen(metrics, params.get("metric") or (form_values or {}).get("metric", ""))
    exposures, interval = _exposures(services, principal, flag_id, params)
    results: dict[str, Any] | None = None
    problem = None
    if chosen is not None:
        try:
            results = services.results.results(principal, flag_id, MetricQuery(None, None, None, chosen.id),
                                               interval)
        except DomainError as refused:
            problem = refused.message
    elif params.get("metric"):
        problem = f"metric {params.get('metric')} is not one of this experiment's metrics"
    context: dict[str, Any] = {
        "kind": Kind.EXPERIMENT, "plural": "experiments", "flag": flag_document(flag),
        "metrics": metrics, "chosen": chosen, "results": results, "problem": problem,
        "exposures": exposures, "interval": interval, "decisions": DECISIONS,
        "metric_kinds": [k.value for k in MetricKind], "roles": [r.value for r in Role],
        "directions": [d.value for d in Direction], "form_values": form_values or {},
        "url": lambda **changes: _url(flag_id, **{"metric": str(chosen.id) if chosen else "",
                                                   "interval": interval, **changes}),
        "exposure_chart": exposures_over_time(exposures["series"], exposures["variants"],
                                              f"Exposed users per {interval}, cumulative"),
        **_analysis_context(services, principal, flag_id, results, form_values),
    }
    if results is not None and chosen is not None:
        duration, duration_error = _duration(services, principal, flag_id, chosen, params)
        error = error or duration_error
        context.update(duration=duration, duration_inputs={
            "mde": params.get("mde") or "5", "power": params.get("power") or "80"})
        context.update(_results_context(results, chosen, interval))
    return page(request, "results.html", current, error=error, **context,
                **project_context(services, current, flag.project_id))


def _exposures(services: ConsoleServices, principal: Principal, flag_id: int,
               params: Any) -> tuple[dict[str, Any], str]:
    """Exposures per the interval asked for (by day unless asked), and that interval."""
    interval = str(params.get("interval")) if params.get("interval") in INTERVALS else "day"
    exposures = services.results.exposures(principal, flag_id, interval)
    if "interval" not in params and len(exposures["series"]) == 1:
        # A young experiment: all of it in one day reads better hour by hour.
        hourly = services.results.exposures(principal, flag_id, "hour")
        if len(hourly["series"]) > 1:
            return hourly, "hour"
    return exposures, interval


def _results_context(results: dict[str, Any], chosen: Metric, interval: str) -> dict[str, Any]:
    """The results card, the difference over time and the guardrails, from one answer."""
    fmt = metric_formatter(chosen.kind)
    level = interval_label(results)
    colours = {v["key"]: PALETTE[n % len(PALETTE)] for n, v in enumerate(results["variants"])
               if v["key"] != results["control"]}  # each variant keeps its colour in every chart
    return {
        "rows": result_rows(results, chosen.kind),
        "level": level,
        "guardrail_level": f"{level_text(results['analysis']['confidenceLevel'])} interval",  # not corrected
        "srm": srm_summary(results),
        "nobody_did": nobody_did(results),
        "guardrails": guardrail_cards(results),
        "harms": harms(results),
        "value_chart": variant_values(results["variants"], results["control"], fmt.value,
                                      f"{chosen.label}: value per variant with {level} of the difference", level),
        "over_time_chart": difference_over_time(
            results["series"], colours, fmt.difference,
            f"{chosen.label}: difference from control at the end of each {interval}, with its {level}", level),
        "over_time": over_time_rows(results["series"], chosen.kind),
        "over_time_unmet": any(not v["thresholdsMet"] for point in results["series"] for v in point["variants"]),
    }


def _analysis_context(services: ConsoleServices, principal: Principal, flag_id: int,
                      results: dict[str, Any] | None, form_values: dict[str, str] | None) -> dict[str, Any]:
    """The analysis card: the settings in words, the form's values and the recent changes."""
    settings = services.results.analysis(principal, flag_id)
    changes = services.results.analysis_changes(principal, flag_id, limit=CHANGES_SHOWN)
    return {
        "analysis_facts": analysis_facts(analysis_document(settings), results),
        "analysis_inputs": _analysis_inputs(settings, form_values or {}),
        "test_types": TEST_WORDS, "corrections": CORRECTION_WORDS,
        "allocations": ALLOCATION_WORDS, "reallocations": REALLOCATION_WORDS,
        "changes": [_change_line(change) for change in changes],
    }


def _analysis_inputs(settings: AnalysisSettings, form_values: dict[str, str]) -> dict[str, Any]:
    """What the analysis form shows: what was typed when it was refused, else the settings."""
    if "testType" in form_values:  # the analysis form was sent and refused
        return {**form_values, "cuped": form_values.get("cuped") == "true"}
    return {"testType": settings.test_type, "confidenceLevel": percent_input(settings.confidence_level),
            "multipleTesting": settings.multiple_testing, "cuped": settings.cuped,
            "cupedWindowDays": str(settings.cuped_window_days),
            "sequentialEffect": percent_input(settings.sequential_effect),
            "allocation": settings.allocation, "reallocation": settings.reallocation}


def _change_line(change: AnalysisChange) -> dict[str, Any]:
    moment = iso(datetime.fromtimestamp(change.changed_at / 1000, tz=UTC)) or ""
    return {"at": moment, "actor": change.actor, "subject": change.subject,
            "summary": change_summary(change.subject, change.before, change.after)}


def _duration(services: ConsoleServices, principal: Principal, flag_id: int, chosen: Metric,
              params: Any) -> tuple[dict[str, Any] | None, FormError | None]:
    """The estimate for the percentages typed in the "How long to run" form, once asked for."""
    if "mde" not in params:
        return None, None
    values: dict[str, float] = {}
    for field, label, example in (("mde", "the smallest change", "5"), ("power", "power", "80")):
        raw = str(params.get(field) or ("80" if field == "power" else "")).strip().rstrip("%")
        try:
            values[field] = float(raw) / 100
        except ValueError:
            return None, FormError("duration", field, f"{label} must be a percentage, such as {example}", 400)
    plan = DurationPlan(mde=values["mde"], relative=True, power=values["power"])
    try:
        return services.results.duration(principal, flag_id, MetricQuery(None, None, None, chosen.id),
                                         plan), None
    except Invalid as refused:
        field = "power" if refused.code == "invalid_power" else "mde"
        return None, FormError("duration", field, refused.message.replace("mde", "the effect"), 400)


def _chosen(metrics: list[Metric], raw: str) -> Metric | None:
    if not raw:  # the primary metric decides the experiment: shown first
        return next((m for m in metrics if m.role is Role.PRIMARY), metrics[0] if metrics else None)
    return next((m for m in metrics if str(m.id) == raw), None)


@router.get("/console/experiments/{id}/results")
def show(request: Request, services: ConsoleDep, current: SignedInDep, id: str) -> Response:
    return results_page(request, services, current, path_id(id, Kind.EXPERIMENT.label))


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _percent(raw: str) -> float | str:
    """A typed percentage as a fraction (through Decimal: 97.5 gives 0.975, not 0.97499…);
    anything else as typed, for the service to refuse with its own message."""
    try:
        return float(Decimal(raw.strip().rstrip("%")) / 100)
    except InvalidOperation:
        return raw


def _whole(raw: str) -> int | str:
    try:
        return int(raw)
    except ValueError:
        return raw


def _in_form_words(error: FormError) -> FormError:
    """A refusal of a field typed in percent says so: the service speaks in fractions."""
    example = PERCENT_EXAMPLES.get(error.field)
    if example is None:
        return error
    return replace(error, message=f"{error.message} — typed here in percent: {example} means {Decimal(example) / 100}")


@router.post("/console/experiments/{id}/results/decision")
def record_decision(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                    id: str) -> Response:
    flag_id = path_id(id, Kind.EXPERIMENT.label)
    decision = _text(form, "decision")
    body = {
        "decision": decision,
        "decisionReason": _text(form, "decisionReason") or None,
        "rolledOutVariant": _text(form, "rolledOutVariant") or None,
    }
    try:
        changes = ExperimentPatchIn.model_validate(body).edits()
        flag = services.flags.edit(current.user.principal(), Kind.EXPERIMENT, flag_id, changes)
    except PendingApproval as pending:
        return held(_url(flag_id, _text(form, "metric")), pending)
    except (DomainError, ValidationError) as error:
        return results_page(request, services, current, flag_id, refusal("decision", error),
                            {k: str(v) for k, v in form.items()})
    what = decision + (f" of {flag.rolled_out_variant}" if flag.rolled_out_variant else "")
    return done(_url(flag_id, _text(form, "metric")),
                f"Decision recorded: {what}. The experiment is now {flag.state}.")


def _stored_fields(metric: Metric) -> dict[str, Any]:
    """A stored metric as the API's body names it, so sending it again keeps its id, its role,
    its direction and its margin (a list without roles would make its first metric primary)."""
    return {"eventType": metric.event_type, "property": metric.property, "kind": metric.kind.value,
            "name": metric.name or None, "filters": metric.filters or None, "role": metric.role.value,
            "direction": metric.direction.value, "nonInferiorityMargin": metric.non_inferiority_margin}


def _save_metrics(services: ConsoleServices, current: SignedIn, flag_id: int,
                  items: list[dict[str, Any]]) -> list[Metric]:
    body = MetricsIn.model_validate({"metrics": items})
    return services.results.set_metrics(current.user.principal(), flag_id,
                                        [m.model_dump() for m in body.metrics])


def _new_metric(form: FormData, first: bool) -> dict[str, Any]:
    """The metric typed in the form; the first of an experiment is its primary unless told."""
    margin = _text(form, "nonInferiorityMargin")
    return {"eventType": _text(form, "eventType"), "property": _text(form, "property") or None,
            "kind": _text(form, "kind") or None, "name": _text(form, "name") or None,
            "role": _text(form, "role") or (Role.PRIMARY.value if first else Role.SECONDARY.value),
            "direction": _text(form, "direction") or None,
            "nonInferiorityMargin": _percent(margin) if margin else None}


def _demoted(items: list[dict[str, Any]], existing: list[Metric]) -> list[str]:
    """A new primary takes the place of the old one, which becomes secondary (there is one)."""
    names = []
    for item, metric in zip(items, existing, strict=True):
        if metric.role is Role.PRIMARY:
            item["role"] = Role.SECONDARY.value
            names.append(metric.label)
    return names


@router.post("/console/experiments/{id}/results/metrics")
def add_metric(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
               id: str) -> Response:
    flag_id = path_id(id, Kind.EXPERIMENT.label)
    try:
        existing = services.results.metrics(current.user.principal(), flag_id)
        new = _new_metric(form, first=not existing)
        kept = [_stored_fields(m) for m in existing]
        demoted = _demoted(kept, existing) if new["role"] == Role.PRIMARY.value else []
        saved = _save_metrics(services, current, flag_id, [*kept, new])
    except (DomainError, ValidationError) as error:
        return results_page(request, services, current, flag_id, _in_form_words(refusal("metric-new", error)),
                            {k: str(v) for k, v in form.items()})
    added = saved[-1]
    also = "".join(f"; {name} is now secondary" for name in demoted)
    return done(_url(flag_id, str(added.id)), f"Metric {added.label} added as {added.role.value}{also}")


def _without(existing: list[Metric], gone: Metric) -> tuple[list[dict[str, Any]], Metric | None]:
    """The list without `gone`, still with one primary: when the primary goes, the first
    remaining non-guardrail metric (else the first one, its margin dropped) takes its place."""
    rest = [m for m in existing if m is not gone]
    heir = None
    if gone.role is Role.PRIMARY and rest:
        heir = next((m for m in rest if m.role is not Role.GUARDRAIL), rest[0])
    items = [_stored_fields(m) for m in rest]
    if heir is not None:
        items[rest.index(heir)].update(role=Role.PRIMARY.value, nonInferiorityMargin=None)
    return items, heir


@router.post("/console/experiments/{id}/results/metrics/{metric}/delete")
def remove_metric(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                  id: str, metric: str) -> Response:
    flag_id = path_id(id, Kind.EXPERIMENT.label)
    heir = None
    try:
        existing = services.results.metrics(current.user.principal(), flag_id)
        gone = next((m for m in existing if str(m.id) == metric), None)
        if gone is not None:
            items, heir = _without(existing, gone)
            _save_metrics(services, current, flag_id, items)
    except (DomainError, ValidationError) as error:
        return results_page(request, services, current, flag_id, refusal(f"metric-{metric}", error))
    label = gone.label if gone else f"metric {metric}"
    if gone is None:
        return done(_url(flag_id), f"{label} was already gone")
    return done(_url(flag_id), f"{label} removed" + (f"; {heir.label} is now the primary metric" if heir else ""))


def _analysis_fields(form: FormData) -> dict[str, Any]:
    """The analysis form as the settings' API names and types; what does not parse goes as
    typed, so the service refuses it with the same message the API gives."""
    return {"testType": _text(form, "testType"),
            "confidenceLevel": _percent(_text(form, "confidenceLevel")),
            "multipleTesting": _text(form, "multipleTesting"),
            "cuped": _text(form, "cuped") == "true",  # an unticked box is not sent
            "cupedWindowDays": _whole(_text(form, "cupedWindowDays")),
            "sequentialEffect": _percent(_text(form, "sequentialEffect")),
            "allocation": _text(form, "allocation"),
            "reallocation": _text(form, "reallocation")}


@router.post("/console/experiments/{id}/results/analysis")
def change_analysis(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                    id: str) -> Response:
    flag_id = path_id(id, Kind.EXPERIMENT.label)
    principal = current.user.principal()
    try:
        before = services.results.analysis(principal, flag_id)
        after = services.results.set_analysis(principal, flag_id, _analysis_fields(form))
    except DomainError as error:
        return results_page(request, services, current, flag_id, _in_form_words(refusal("analysis", error)),
                            {k: str(v) for k, v in form.items()})
    back = _url(flag_id, _text(form, "metric"), _text(form, "interval"))
    if after == before:
        return done(back, "Analysis settings unchanged")
    summary = change_summary("analysis", analysis_document(before), analysis_document(after))
    return done(back, f"Analysis settings changed: {summary}")

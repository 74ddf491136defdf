"""An experiment's results page: per-variant results of a stored metric, exposures over time,
the sample ratio check, the experiment's metrics, and the decision.

Every number comes from `ResultsService`, the service behind /api/1/experiments/{id}/results
and /exposures; the metric and decision forms become the Management API's bodies (`MetricsIn`,
`ExperimentPatchIn`) and go to the same calls as `PUT .../metrics` and `PATCH .../{id}`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.results_charts import exposures_over_time, variant_values
from flagyard.api.console.results_view import metric_formatter, nobody_did, result_rows, srm_summary
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.api.schemas.flags import ExperimentPatchIn
from flagyard.api.schemas.results import MetricsIn
from flagyard.errors import DomainError, Invalid
from flagyard.manage.model.access import Principal
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Kind
from flagyard.manage.users import SignedIn
from flagyard.measure.duration import DurationPlan
from flagyard.measure.model.metrics import Metric, MetricKind
from flagyard.measure.results import MetricQuery

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

INTERVALS = ("day", "hour")
DECISIONS = ("rollout", "rollback", "continue-running")


def _url(flag_id: int, metric: str = "", interval: str = "") -> str:
    query = {name: value for name, value in (("metric", metric), ("interval", interval)) if value}
    return f"/console/experiments/{flag_id}/results" + (f"?{urlencode(query)}" if query else "")


def results_page(request: Request, services: ConsoleServices, current: SignedIn, flag_id: int,
                 error: FormError | None = None, form_values: dict[str, str] | None = None) -> Response:
    principal = current.user.principal()
    flag = services.flags.get(principal, Kind.EXPERIMENT, flag_id)
    params = request.query_params
    interval = str(params.get("interval")) if params.get("interval") in INTERVALS else "day"
    metrics = services.results.metrics(principal, flag_id)
    chosen = _chosen(metrics, params.get("metric") or (form_values or {}).get("metric", ""))
    results: dict[str, Any] | None = None
    problem = None
    if chosen is not None:
        try:
            results = services.results.results(principal, flag_id, MetricQuery(None, None, None, chosen.id))
        except DomainError as refused:
            problem = refused.message
    elif params.get("metric"):
        problem = f"metric {params.get('metric')} is not one of this experiment's metrics"
    exposures = services.results.exposures(principal, flag_id, interval)
    if "interval" not in params and len(exposures["series"]) == 1:
        # A young experiment: all of it in one day reads better hour by hour.
        hourly = services.results.exposures(principal, flag_id, "hour")
        if len(hourly["series"]) > 1:
            exposures, interval = hourly, "hour"
    context: dict[str, Any] = {
        "kind": Kind.EXPERIMENT, "plural": "experiments", "flag": flag_document(flag),
        "metrics": metrics, "chosen": chosen, "results": results, "problem": problem,
        "exposures": exposures, "interval": interval, "decisions": DECISIONS,
        "metric_kinds": [k.value for k in MetricKind], "form_values": form_values or {},
        "url": lambda **changes: _url(flag_id, **{"metric": str(chosen.id) if chosen else "",
                                                   "interval": interval, **changes}),
        "exposure_chart": exposures_over_time(exposures["series"], exposures["variants"],
                                              f"Exposed users per {interval}, cumulative"),
    }
    if results is not None and chosen is not None:
        duration, duration_error = _duration(services, principal, flag_id, chosen, params)
        error = error or duration_error
        context.update(duration=duration, duration_inputs={
            "mde": params.get("mde") or "5", "power": params.get("power") or "80"})
        fmt = metric_formatter(chosen.kind)
        context.update(
            rows=result_rows(results, chosen.kind),
            srm=srm_summary(results),
            nobody_did=nobody_did(results),
            value_chart=variant_values(results["variants"], results["control"], fmt.value,
                                       f"{chosen.label}: value per variant with 95 % interval of the difference"),
        )
    return page(request, "results.html", current, error=error, **context,
                **project_context(services, current, flag.project_id))


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
    if not raw:
        return metrics[0] if metrics else None
    return next((m for m in metrics if str(m.id) == raw), None)


@router.get("/console/experiments/{id}/results")
def show(request: Request, services: ConsoleDep, current: SignedInDep, id: str) -> Response:
    return results_page(request, services, current, path_id(id, Kind.EXPERIMENT.label))


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


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
    except (DomainError, ValidationError) as error:
        return results_page(request, services, current, flag_id, refusal("decision", error),
                            {k: str(v) for k, v in form.items()})
    what = decision + (f" of {flag.rolled_out_variant}" if flag.rolled_out_variant else "")
    return done(_url(flag_id, _text(form, "metric")),
                f"Decision recorded: {what}. The experiment is now {flag.state}.")


def _stored_fields(metric: Metric) -> dict[str, Any]:
    """A stored metric as the API's body names it, so sending it again keeps its id."""
    return {"eventType": metric.event_type, "property": metric.property, "kind": metric.kind.value,
            "name": metric.name or None, "filters": metric.filters or None}


def _save_metrics(services: ConsoleServices, current: SignedIn, flag_id: int,
                  items: list[dict[str, Any]]) -> list[Metric]:
    body = MetricsIn.model_validate({"metrics": items})
    return services.results.set_metrics(current.user.principal(), flag_id,
                                        [m.model_dump() for m in body.metrics])


@router.post("/console/experiments/{id}/results/metrics")
def add_metric(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
               id: str) -> Response:
    flag_id = path_id(id, Kind.EXPERIMENT.label)
    new = {"eventType": _text(form, "eventType"), "property": _text(form, "property") or None,
           "kind": _text(form, "kind") or None, "name": _text(form, "name") or None}
    try:
        existing = services.results.metrics(current.user.principal(), flag_id)
        saved = _save_metrics(services, current, flag_id, [*map(_stored_fields, existing), new])
    except (DomainError, ValidationError) as error:
        return results_page(request, services, current, flag_id, refusal("metric-new", error),
                            {k: str(v) for k, v in form.items()})
    added = saved[-1]
    return done(_url(flag_id, str(added.id)), f"Metric {added.label} added")


@router.post("/console/experiments/{id}/results/metrics/{metric}/delete")
def remove_metric(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                  id: str, metric: str) -> Response:
    flag_id = path_id(id, Kind.EXPERIMENT.label)
    try:
        existing = services.results.metrics(current.user.principal(), flag_id)
        gone = next((m for m in existing if str(m.id) == metric), None)
        if gone is not None:
            _save_metrics(services, current, flag_id, [_stored_fields(m) for m in existing if m is not gone])
    except (DomainError, ValidationError) as error:
        return results_page(request, services, current, flag_id, refusal(f"metric-{metric}", error))
    label = gone.label if gone else f"metric {metric}"
    return done(_url(flag_id), f"{label} removed" if gone else f"{label} was already gone")

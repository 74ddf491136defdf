"""/api/1/experiments/{id}/metrics, /results, /exposures and /duration: an experiment's outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from flagyard.api.http.deps import PrincipalDep, measure_services, path_id
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS
from flagyard.api.schemas.results import AnalysisIn, MetricsIn
from flagyard.manage.model.document import iso
from flagyard.measure.duration import DurationPlan
from flagyard.measure.model.analysis import analysis_document
from flagyard.measure.model.metrics import metric_document
from flagyard.measure.results import MetricQuery, ResultsService

router = APIRouter(prefix="/api/1/experiments", tags=["Experiment results"], responses=MANAGEMENT_ERRORS)


def _service(request: Request) -> ResultsService:
    return measure_services(request).results


def _id(raw: str) -> int:
    return path_id(raw, "Experiment")


@router.get("/{id}/metrics", summary="List the experiment's metrics")
def list_metrics(id: str, principal: PrincipalDep, request: Request) -> dict[str, Any]:
    return {"metrics": [metric_document(m) for m in _service(request).metrics(principal, _id(id))]}


@router.put("/{id}/metrics", summary="Set the experiment's metrics (replaces the list)")
def set_metrics(id: str, body: MetricsIn, principal: PrincipalDep, request: Request) -> dict[str, Any]:
    items = [m.model_dump() for m in body.metrics]
    saved = _service(request).set_metrics(principal, _id(id), items)
    return {"metrics": [metric_document(m) for m in saved]}


# Async, though it waits for nothing: a plain `def` dependency would cost a worker-thread hop.
async def metric_query(
    metric: Annotated[str | None, Query(description="event type (default: the first stored metric)")] = None,
    property: Annotated[str | None, Query(description="numeric event property")] = None,
    kind: Annotated[str | None, Query(description="conversion, mean or count")] = None,
    metricId: Annotated[int | None, Query(description="a stored metric's id")] = None,  # noqa: N803
) -> MetricQuery:
    """The metric a results or duration request names, as the results route has always read it."""
    return MetricQuery(event_type=metric or None, property=property or None, kind=kind or None,
                       metric_id=metricId)


MetricQueryDep = Annotated[MetricQuery, Depends(metric_query)]


@router.get("/{id}/results", summary="Results of one metric, per variant against control")
def results(id: str, principal: PrincipalDep, request: Request, query: MetricQueryDep,
            interval: Annotated[str | None, Query(description="day or hour: also the figures as they "
                                                           "stood at the end of each")] = None) -> dict[str, Any]:
    return _service(request).results(principal, _id(id), query, interval or None)


@router.get("/{id}/analysis", summary="How the experiment's results are analysed")
def get_analysis(id: str, principal: PrincipalDep, request: Request) -> dict[str, Any]:
    return analysis_document(_service(request).analysis(principal, _id(id)))


@router.put("/{id}/analysis", summary="Change analysis settings (settings not sent keep their values)")
def put_analysis(id: str, body: AnalysisIn, principal: PrincipalDep, request: Request) -> dict[str, Any]:
    fields = body.model_dump(by_alias=True, exclude_unset=True)
    return analysis_document(_service(request).set_analysis(principal, _id(id), fields))


@router.get("/{id}/analysis/changes", summary="Changes to the experiment's metrics and analysis, newest first")
def analysis_changes(id: str, principal: PrincipalDep, request: Request,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    changes = _service(request).analysis_changes(principal, _id(id), limit)
    return {"changes": [{"id": str(c.id), "changedAt": iso(datetime.fromtimestamp(c.changed_at / 1000, tz=UTC)), "actor": c.actor,
                         "subject": c.subject, "before": c.before, "after": c.after} for c in changes]}


@router.get("/{id}/exposures", summary="Exposed users per variant over time")
def exposures(id: str, principal: PrincipalDep, request: Request,
              interval: Annotated[str, Query(description="day or hour")] = "day") -> dict[str, Any]:
    return _service(request).exposures(principal, _id(id), interval)


@router.get("/{id}/duration", summary="Users and days needed to detect an effect on one metric")
def duration(
    id: str, principal: PrincipalDep, request: Request, query: MetricQueryDep,
    mde: Annotated[float, Query(description="the smallest change worth detecting: a share of the "
                                            "control's value (0.05 = 5 %), or absolute with mdeType")] = 0.05,
    mdeType: Annotated[Literal["relative", "absolute"], Query()] = "relative",  # noqa: N803
    power: Annotated[float, Query(description="chance to detect the effect if it is real")] = 0.8,
    confidenceLevel: Annotated[float, Query()] = 0.95,  # noqa: N803
) -> dict[str, Any]:
    plan = DurationPlan(mde=mde, relative=mdeType == "relative", power=power,
                        confidence_level=confidenceLevel)
    return _service(request).duration(principal, _id(id), query, plan)

"""/api/1/experiments/{id}/metrics, /results and /exposures: an experiment's outcome."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from flagyard.api.http.deps import PrincipalDep, measure_services, path_id
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS
from flagyard.api.schemas.results import MetricsIn
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


@router.get("/{id}/results", summary="Results of one metric, per variant against control")
def results(
    id: str, principal: PrincipalDep, request: Request,
    metric: Annotated[str | None, Query(description="event type (default: the first stored metric)")] = None,
    property: Annotated[str | None, Query(description="numeric event property")] = None,
    kind: Annotated[str | None, Query(description="conversion, mean or count")] = None,
    metricId: Annotated[int | None, Query(description="a stored metric's id")] = None,  # noqa: N803
) -> dict[str, Any]:
    query = MetricQuery(event_type=metric or None, property=property or None, kind=kind or None,
                        metric_id=metricId)
    return _service(request).results(principal, _id(id), query)


@router.get("/{id}/exposures", summary="Exposed users per variant over time")
def exposures(id: str, principal: PrincipalDep, request: Request,
              interval: Annotated[str, Query(description="day or hour")] = "day") -> dict[str, Any]:
    return _service(request).exposures(principal, _id(id), interval)

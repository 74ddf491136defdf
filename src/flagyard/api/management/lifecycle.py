"""/api/1/experiments/{id}/{start,stop,decision,runs}: an experiment from start to decision,
and its new runs (docs/experiments.md). Each step is a version, held for approval on a
protected deployment like any edit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from flagyard.api.http.deps import PrincipalDep, ServicesDep, measure_services, path_id
from flagyard.api.schemas.lifecycle import DecisionIn, NewRunIn
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS, FlagOut, documented
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.lifecycle import run_document

router = APIRouter(prefix="/api/1/experiments", tags=["Experiment lifecycle"], responses=MANAGEMENT_ERRORS)


def _id(raw: str) -> int:
    return path_id(raw, "Experiment")


@router.post("/{id}/start", summary="Start the experiment now (to start later, schedule {\"enabled\": true})",
             **documented(FlagOut, held=True))
def start(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return flag_document(services.lifecycle.start(principal, _id(id)))


@router.post("/{id}/stop", summary="Stop the experiment: no longer served, its end date now",
             **documented(FlagOut, held=True))
def stop(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return flag_document(services.lifecycle.stop(principal, _id(id)))


@router.post("/{id}/decision", summary="Record a decision: roll out a variant, roll back, or keep running",
             **documented(FlagOut, held=True))
def decide(id: str, body: DecisionIn, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return flag_document(services.lifecycle.decide(principal, _id(id), body.decision, body.variant, body.reason))


@router.post("/{id}/runs", summary="Start a new run: a new experiment repeating this one's design, in planning",
             **documented(FlagOut))
def new_run(id: str, body: NewRunIn, principal: PrincipalDep, services: ServicesDep,
            request: Request) -> dict[str, Any]:
    run = services.lifecycle.new_run(principal, _id(id), body.key, new_salt=body.new_bucketing_salt, name=body.name)
    # Its metrics and analysis settings live in the measure wing: copied after the run exists.
    measure_services(request).results.copy_design(principal, _id(id), run.id)
    return flag_document(run)


@router.get("/{id}/runs", summary="Every run of the experiment, oldest first")
def runs(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return {"runs": [run_document(run) for run in services.lifecycle.runs(principal, _id(id))]}

"""/health, /ready and /metrics: for load balancers and Prometheus. No key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from flagyard.api.http.deps import serve_services

router = APIRouter(tags=["Operations"])


@router.get("/health", summary="Liveness: the process answers")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the database answers, its schema is current and every "
                              "deployment's flags are compiled")
def ready(request: Request) -> JSONResponse:
    body: dict[str, Any]
    try:
        current, head = request.app.state.schema_revisions()
    except Exception as error:  # any driver error means "not ready", never a 500
        body = {"status": "unavailable", "reason": f"database unreachable: {type(error).__name__}"}
        return JSONResponse(body, status_code=503)
    if current != head:
        body = {"status": "unavailable", "reason": f"schema at {current}, needs {head}"}
        return JSONResponse(body, status_code=503)
    propagator = serve_services(request).propagator
    if not propagator.built:
        # A first request would wait for its deployment's cold build (serve/propagation.py).
        body = {"status": "unavailable", "reason": "building the deployments' snapshots"}
        return JSONResponse(body, status_code=503)
    if not propagator.listening:
        # Changes made through other processes would not reach this one as they happen.
        body = {"status": "unavailable", "reason": "not yet listening for changes"}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "schema": head})


@router.get("/metrics", summary="Prometheus metrics of this process")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

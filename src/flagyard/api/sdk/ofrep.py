"""OFREP 0.3.0: POST /ofrep/v1/evaluate/flags/{key} and the bulk POST /ofrep/v1/evaluate/flags.

Both evaluate through `Serving.evaluate`, exactly as `/sdk/v2/vardata` does (cohort membership
included; OFREP tracks no assignments); the mapping to OpenFeature's shapes is
`flagyard.serve.openfeature`. Errors use OFREP's bodies (`{key, errorCode, errorDetails}`), with
status codes from the one table in `api/http/errors.py`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from flagyard.api.http.deps import serve_services
from flagyard.api.http.errors import STATUS
from flagyard.api.http.ratelimit import token_buckets
from flagyard.api.sdk.ofrep_wire import context_of, deployment_key
from flagyard.errors import DomainError, NotFound, RateLimited
from flagyard.measure.model.tracking import UNTRACKED
from flagyard.serve import openfeature
from flagyard.serve.service import Serving

log = logging.getLogger("flagyard.api")

# OFREP's error codes for flagyard's; anything else is GENERAL.
_ERROR_CODES = {
    "parse_error": "PARSE_ERROR",
    "invalid_context": "INVALID_CONTEXT",
    "targeting_key_missing": "TARGETING_KEY_MISSING",
    "flag_not_found": "FLAG_NOT_FOUND",
}


def build_router(rate_limit_per_second: float = 0.0) -> APIRouter:
    router = APIRouter(prefix="/ofrep/v1", tags=["OpenFeature (OFREP)"])
    buckets = token_buckets(rate_limit_per_second)

    async def admitted(request: Request) -> str:
        """The deployment key, authenticated and within its rate."""
        key = deployment_key(request)
        snapshot = await _serving(request).snapshot(key)
        # Limited after authentication, so made-up keys cannot fill the bucket table.
        if buckets is not None:
            buckets.admit(snapshot.deployment.id)
        return key

    @router.post("/evaluate/flags/{key:path}", summary="Evaluate one flag for a context")
    async def evaluate_flag(key: str, request: Request) -> Response:
        try:
            deployment = await admitted(request)
            user = openfeature.context_to_user(context_of(await request.body()))
            evaluation = await _serving(request).evaluate(deployment, user, [key], UNTRACKED)
            snapshot = evaluation.snapshot
            if key in snapshot.deployed_keys:
                variant = evaluation.variants.get(key)
                return JSONResponse(openfeature.evaluation(key, variant, snapshot.flags.get(key)))
            if key in snapshot.dormant_keys:
                return JSONResponse(openfeature.disabled(key))
            raise NotFound(f"flag '{key}' is not served by this deployment",
                           code="flag_not_found")
        except DomainError as error:
            return _failure(error, key)
        except Exception:
            log.exception("OFREP evaluation of %s failed", key)
            return JSONResponse({"key": key, "errorCode": "GENERAL",
                                 "errorDetails": "internal server error"}, status_code=500)

    @router.post("/evaluate/flags", summary="Evaluate every flag of the deployment for a context")
    async def evaluate_flags(request: Request) -> Response:
        try:
            deployment = await admitted(request)
            user = openfeature.context_to_user(context_of(await request.body()))
            evaluation = await _serving(request).evaluate(deployment, user, None, UNTRACKED)
        except DomainError as error:
            return _failure(error, None)
        snapshot, variants = evaluation.snapshot, evaluation.variants
        flags = [
            openfeature.evaluation(key, variants.get(key), snapshot.flags.get(key))
            for key in snapshot.deployed_keys
        ]
        flags += [openfeature.disabled(key) for key in sorted(snapshot.dormant_keys)]
        body = json.dumps({"flags": flags}, separators=(",", ":"), sort_keys=True,
                          ensure_ascii=False).encode()
        # A hash of the answer itself: a provider that keeps its ETag across a change of
        # attributes (the web provider does) still gets the new evaluations.
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag in _etags(request.headers.get("if-none-match")):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    return router


def _serving(request: Request) -> Serving:
    return serve_services(request).serving


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def _failure(error: DomainError, key: str | None) -> JSONResponse:
    status = next((s for cls, s in STATUS.items() if isinstance(error, cls)), 500)
    body: dict[str, Any] = {"errorCode": _ERROR_CODES.get(error.code, "GENERAL"),
                            "errorDetails": error.message}
    if key is not None:
        body = {"key": key, **body}
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    return JSONResponse(body, status_code=status, headers=headers)

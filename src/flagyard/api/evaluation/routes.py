"""/sdk/v2/flags, /sdk/v2/vardata, /v1/vardata and /sdk/stream/v1/flags."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from flagyard.api.evaluation.flags_response import flags_response
from flagyard.api.evaluation.wire import (
    decode_base64_json,
    deployment_key,
    flag_keys_header,
    parse_json,
    user_object,
)
from flagyard.api.fast_json import FastJSONResponse
from flagyard.errors import DomainError
from flagyard.services.evaluation import EvaluationService
from flagyard.services.snapshots import FlagsBody, Snapshot

router = APIRouter(tags=["SDK"])

STREAM_POLL_SECONDS = 0.2


def _service(request: Request) -> EvaluationService:
    return request.app.state.evaluation


async def _snapshot(request: Request) -> Snapshot:
    key = deployment_key(request)
    service = _service(request)
    cached = service.cached(key)
    return cached if cached is not None else await to_thread.run_sync(service.refresh, key)


def _flags_body(snapshot: Snapshot, request: Request) -> FlagsBody:
    remote = request.query_params.get("eval_mode") == "remote"
    return snapshot.everything if remote else snapshot.local


@router.get("/sdk/v2/flags", summary="Flag configs for local evaluation")
async def flags(request: Request) -> Response:
    body = _flags_body(await _snapshot(request), request)
    return flags_response(body, request.headers)


def _evaluate(request: Request, snapshot: Snapshot, user: dict[str, Any],
              flag_keys: list[str] | None) -> dict[str, dict[str, Any]]:
    results = _service(request).evaluate(snapshot, user, flag_keys)
    request.app.state.metrics.evaluations.labels(str(snapshot.deployment.id)).inc(len(results))
    return results


@router.post("/sdk/v2/vardata", summary="Remote evaluation; the user is the body")
async def vardata_post(request: Request) -> FastJSONResponse:
    snapshot = await _snapshot(request)
    user = user_object(parse_json(await request.body(), "request body"), "request body")
    return FastJSONResponse(_evaluate(request, snapshot, user, flag_keys_header(request)))


@router.get("/sdk/v2/vardata", summary="Remote evaluation; the user is in X-Amp-Exp-User")
async def vardata_get(request: Request) -> FastJSONResponse:
    snapshot = await _snapshot(request)
    raw = request.headers.get("x-amp-exp-user")
    user = user_object(decode_base64_json(raw, "X-Amp-Exp-User"), "X-Amp-Exp-User") if raw else {}
    return FastJSONResponse(_evaluate(request, snapshot, user, flag_keys_header(request)))


@router.get("/v1/vardata", summary="REST evaluation API; the user in the query")
async def vardata_rest_get(request: Request) -> FastJSONResponse:
    return await _vardata_rest(request)


@router.post("/v1/vardata", summary="REST evaluation API; the user in the body or the query")
async def vardata_rest_post(request: Request) -> FastJSONResponse:
    return await _vardata_rest(request)


async def _vardata_rest(request: Request) -> FastJSONResponse:
    snapshot = await _snapshot(request)
    fields: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        fields.update(user_object(parse_json(await request.body(), "request body"), "request body"))
    context = fields.get("context") or {}
    if isinstance(context, str):
        context = parse_json(context.encode(), "context")
    user = dict(user_object(context, "context"))
    for name in ("user_id", "device_id"):
        if fields.get(name):
            user[name] = fields[name]
    keys = fields.get("flag_keys") or fields.get("flag_key")
    if isinstance(keys, str):
        keys = [k for k in keys.split(",") if k]
    results = _evaluate(request, snapshot, user, keys or None)
    # The v1 form leaves out default variants, as Amplitude's does.
    return FastJSONResponse({
        key: _v1_variant(variant)
        for key, variant in results.items()
        if not variant.get("metadata", {}).get("default")
    })


def _v1_variant(variant: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: variant[k] for k in ("key", "value", "payload") if k in variant}
    experiment_key = variant.get("metadata", {}).get("experimentKey")
    if experiment_key:
        out["expKey"] = experiment_key
    return out


@router.get("/sdk/stream/v1/flags", summary="Server-sent events: the flag array on every change")
async def stream(request: Request) -> StreamingResponse:
    first = await _snapshot(request)
    key = deployment_key(request)
    service = _service(request)
    keep_alive = request.app.state.settings.stream_keepalive_seconds

    async def events() -> AsyncIterator[bytes]:
        sent = _flags_body(first, request)
        yield b"data: " + sent.body + b"\n\n"
        last_event = time.monotonic()
        while not await request.is_disconnected():
            await anyio.sleep(STREAM_POLL_SECONDS)
            try:
                snapshot = service.cached(key) or await to_thread.run_sync(service.refresh, key)
                assert snapshot is not None
            except DomainError:
                return  # the key was revoked or its deployment archived
            current = _flags_body(snapshot, request)
            if current.etag != sent.etag:
                sent = current
                yield b"data: " + sent.body + b"\n\n"
                last_event = time.monotonic()
            elif time.monotonic() - last_event >= keep_alive:
                yield b"data:  \n\n"  # a keep-alive: data of a single space
                last_event = time.monotonic()

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})




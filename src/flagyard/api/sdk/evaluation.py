"""/sdk/v2/flags, /sdk/v2/vardata, /v1/vardata and /sdk/stream/v1/flags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from flagyard.api.http.deps import serve_services
from flagyard.api.http.fast_json import FastJSONResponse
from flagyard.api.sdk.broadcast import StreamHub
from flagyard.api.sdk.flags_response import flags_response
from flagyard.api.sdk.wire import (
    deployment_key,
    parse_json,
    remote_mode,
    tracking,
    user_object,
    vardata_body,
    vardata_headers,
)
from flagyard.serve.service import EncodedRequest, Serving
from flagyard.serve.snapshots import Snapshot

router = APIRouter(tags=["SDK"])


def _serving(request: Request) -> Serving:
    return serve_services(request).serving


async def _authenticated(request: Request) -> Snapshot:
    """The key is checked before the body is read: a wrong key is 401 whatever it sent."""
    return await _serving(request).snapshot(deployment_key(request))


@router.get("/sdk/v2/flags", summary="Flag configs for local evaluation")
async def flags(request: Request) -> Response:
    body = await _serving(request).config(deployment_key(request),
                                          remote_mode(request.scope["query_string"]))
    return flags_response(body, request.headers)


async def _evaluate(request: Request, user: dict[str, Any],
                    flag_keys: list[str] | None) -> dict[str, dict[str, Any]]:
    evaluation = await _serving(request).evaluate(deployment_key(request), user, flag_keys,
                                                  tracking(request))
    return evaluation.variants


class _JsonBody(Response):
    """JSON bytes with their two headers written directly, as FastJSONResponse would write
    them: Starlette's header building was a noticeable share of a remote evaluation."""

    media_type = "application/json"

    def __init__(self, content: bytes) -> None:
        self.status_code = 200
        self.body = content
        self.background = None
        self.raw_headers = [(b"content-length", str(len(content)).encode()), _JSON]


_JSON = (b"content-type", b"application/json")


@router.post("/sdk/v2/vardata", summary="Remote evaluation; the user is the body")
async def vardata_post(request: Request) -> Response:
    await _authenticated(request)  # before the body is read
    body = await request.body()
    return await _vardata(request, vardata_body(body, request.headers.get("x-amp-exp-flag-keys")))


@router.get("/sdk/v2/vardata", summary="Remote evaluation; the user is in X-Amp-Exp-User")
async def vardata_get(request: Request) -> Response:
    headers = request.headers
    return await _vardata(request, vardata_headers(headers.get("x-amp-exp-user"),
                                                   headers.get("x-amp-exp-flag-keys")))


async def _vardata(request: Request, encoded: EncodedRequest) -> Response:
    body = await _serving(request).vardata(deployment_key(request), encoded, tracking(request))
    return _JsonBody(body)


@router.get("/v1/vardata", summary="REST evaluation API; the user in the query")
async def vardata_rest_get(request: Request) -> FastJSONResponse:
    return await _vardata_rest(request)


@router.post("/v1/vardata", summary="REST evaluation API; the user in the body or the query")
async def vardata_rest_post(request: Request) -> FastJSONResponse:
    return await _vardata_rest(request)


async def _vardata_rest(request: Request) -> FastJSONResponse:
    await _authenticated(request)
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
    results = await _evaluate(request, user, keys or None)
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
async def stream(request: Request) -> Response:
    snapshot = await _authenticated(request)
    remote = request.query_params.get("eval_mode") == "remote"
    return _Stream(request.app.state.stream_hub, deployment_key(request), remote, snapshot)


class _Stream(Response):
    """The SSE answer: the connection joins its deployment's broadcaster (broadcast.py)."""

    def __init__(self, hub: StreamHub, key: str, remote: bool, snapshot: Snapshot) -> None:
        super().__init__(media_type="text/event-stream")
        self._hub, self._key, self._remote, self._snapshot = hub, key, remote, snapshot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._hub.serve(self._key, self._remote, self._snapshot, scope, receive, send)

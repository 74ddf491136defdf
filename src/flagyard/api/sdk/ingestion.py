"""POST /2/httpapi and POST /batch, answered as Amplitude answers.

Every answer carries the integer `code` the analytics SDKs read (they ignore the HTTP status
when the body parses). These routes take no Authorization header: the deployment key is the
body's `api_key`, as with Amplitude's project API key.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from flagyard.api.http.deps import measure_services
from flagyard.measure.ingestion import (
    Accepted,
    PayloadTooLarge,
    Throttled,
    UnknownApiKey,
)
from flagyard.measure.model.events import UploadRefused

log = logging.getLogger("flagyard.events")
router = APIRouter(tags=["Event ingestion"])

HTTPAPI_MAX_BYTES = 1024 * 1024  # "under 1 MB"
HTTPAPI_MAX_EVENTS = 2000  # "fewer than 2000 events"
BATCH_MAX_BYTES = 20 * 1024 * 1024


def answer(code: int, **fields: Any) -> JSONResponse:
    # CORS (browsers post exposures from pages) is the SDK policy of api/http/cors.py.
    return JSONResponse({"code": code, **fields}, status_code=code)


@router.post("/2/httpapi", summary="Upload events (Amplitude HTTP V2 API)")
async def httpapi(request: Request) -> JSONResponse:
    return await _ingest(request, HTTPAPI_MAX_BYTES, HTTPAPI_MAX_EVENTS)


@router.post("/batch", summary="Upload events (Amplitude Batch Event Upload API)")
async def batch(request: Request) -> JSONResponse:
    return await _ingest(request, BATCH_MAX_BYTES, None)


async def _ingest(request: Request, max_bytes: int, max_events: int | None) -> JSONResponse:
    payload = await _read(request, max_bytes)
    if payload is None:
        return answer(413, error="Payload too large")
    service = measure_services(request).ingestion
    try:
        accepted: Accepted = await to_thread.run_sync(lambda: service.accept(payload, max_events=max_events))
    except UploadRefused as refused:
        return answer(400, **_refusal(refused))
    except PayloadTooLarge:
        return answer(413, error="Payload too large")
    except UnknownApiKey as unknown:
        return answer(400, error=f"Invalid API key: {unknown.api_key}")
    except Throttled as throttled:
        return answer(429, **_throttled(throttled))
    try:
        await asyncio.wrap_future(accepted.committed)
    except Exception:  # noqa: BLE001 - the writer logged it; the SDK retries on 500
        return answer(500, error="Internal server error: the events were not stored")
    return answer(200, events_ingested=accepted.events, payload_size_bytes=len(payload),
                  server_upload_time=int(time.time() * 1000))


async def _read(request: Request, max_bytes: int) -> bytes | None:
    """The body, un-gzipped if sent so; None once it passes `max_bytes` (either way)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return None
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > max_bytes:
            return None
    if request.headers.get("content-encoding", "").lower() != "gzip":
        return bytes(chunks)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(bytes(chunks), max_bytes + 1)
    except zlib.error:
        return b"\x00"  # not gzip: answered as a body that is not JSON
    if len(data) > max_bytes:
        return None
    return data


def _refusal(refused: UploadRefused) -> dict[str, Any]:
    body: dict[str, Any] = {"error": refused.error}
    if refused.missing_field is not None:
        body["missing_field"] = refused.missing_field
    if refused.invalid_fields:
        body["events_with_invalid_fields"] = refused.invalid_fields
    if refused.missing_fields:
        body["events_with_missing_fields"] = refused.missing_fields
    if refused.invalid_id_lengths:
        body["events_with_invalid_id_lengths"] = refused.invalid_id_lengths
    return body


def _throttled(throttled: Throttled) -> dict[str, Any]:
    return {
        "error": "Too many requests for some devices and users",
        "eps_threshold": throttled.rate,
        "throttled_devices": {d: throttled.rate for d in throttled.devices},
        "throttled_users": {u: throttled.rate for u in throttled.users},
        "throttled_events": list(range(throttled.event_count)),
    }

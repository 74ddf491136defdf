"""GET /sdk/v1/cohort/{id}: cohort members for local-evaluation SDKs (`cohort_sync_config`).

Answers as Amplitude's SDKs expect: 200 with the members, 204 when `lastModified` is the
cohort's current one, 413 when it has more members than `maxCohortSize`. Every answer but
200 closes the connection: the Python SDK leaves such bodies unread on a kept-alive socket,
and its next request there would fail.

The body is streamed, `size` last, so a cohort of a million ids is never held in memory.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from flagyard.api.http.deps import serve_services
from flagyard.api.http.errors import domain_error_response
from flagyard.errors import DomainError, Invalid, Unauthenticated
from flagyard.manage.model.cohorts import Cohort
from flagyard.serve.cohort_download import (
    Answer,
    CohortDownloadService,
    answer,
    group_type_id,
)

router = APIRouter(tags=["SDK"])

CLOSE = {"Connection": "close"}


def _service(request: Request) -> CohortDownloadService:
    return serve_services(request).cohort_download


def basic_credentials(header: str | None) -> tuple[str, str]:
    """(api_key, secret_key) from `Authorization: Basic base64(api_key:secret_key)`."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Unauthenticated("send 'Authorization: Basic base64(api_key:secret_key)'",
                              code="missing_key")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("the Basic credentials are not base64 of api_key:secret_key",
                              code="invalid_key") from None
    api_key, colon, secret_key = decoded.partition(":")
    if not colon or not api_key or not secret_key or "\x00" in decoded:
        raise Unauthenticated("the Basic credentials must be api_key:secret_key", code="invalid_key")
    return api_key, secret_key


def _query_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.isascii() and raw.lstrip("-").isdigit() and len(raw) <= 19:
        return int(raw)
    raise Invalid(f"{name} must be an integer", code="invalid_field")


@router.get("/sdk/v1/cohort/{cohortId}", summary="Download a cohort's members (local evaluation)")
async def download_cohort(cohortId: str, request: Request) -> Response:
    service = _service(request)
    try:
        max_size = _query_int(request, "maxCohortSize")
        last_modified = _query_int(request, "lastModified")
        api_key, secret_key = basic_credentials(request.headers.get("authorization"))
        cohort = await to_thread.run_sync(service.open, api_key, secret_key, cohortId)
    except DomainError as error:
        failed = domain_error_response(error)
        failed.headers.update(CLOSE)
        return failed
    decision = answer(cohort, max_size, last_modified)
    if decision is Answer.UNCHANGED:
        return Response(status_code=204, headers=CLOSE)
    if decision is Answer.TOO_LARGE:
        return JSONResponse(
            {"error": {"code": "cohort_too_large",
                       "message": f"cohort {cohort.public_id} has {cohort.size} members, "
                                  f"more than maxCohortSize {max_size}"}},
            status_code=413, headers=CLOSE)
    return StreamingResponse(_body(service, cohort), media_type="application/json")


def _body(service: CohortDownloadService, cohort: Cohort) -> Iterator[bytes]:
    head = {
        "cohortId": cohort.public_id,
        "groupType": cohort.group_type,
        "groupTypeId": group_type_id(cohort.group_type),
        "lastComputed": cohort.last_modified,
        "lastModified": cohort.last_modified,
    }
    yield json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1].encode() + b',"memberIds":['
    size = 0
    for chunk in service.member_chunks(cohort):
        text = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))[1:-1]
        yield (b"," if size else b"") + text.encode()
        size += len(chunk)
    # Counted from what was sent, so size and memberIds always agree.
    yield b'],"size":' + str(size).encode() + b"}"

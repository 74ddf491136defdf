"""/api/1/audit: every change and sign-in, newest first; /api/1/audit/export as JSON lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from flagyard.api.http.deps import PrincipalDep, ServicesDep
from flagyard.api.http.moments import query_moment
from flagyard.api.http.pagination import page_request
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS
from flagyard.manage.model.audit import AuditQuery, audit_document

router = APIRouter(prefix="/api/1/audit", tags=["Audit"], responses=MANAGEMENT_ERRORS)

Text = Annotated[str | None, Query()]


class JsonLinesResponse(StreamingResponse):
    media_type = "application/x-ndjson"


def _query(start: str | None, end: str | None, actor: str | None, action: str | None) -> AuditQuery:
    return AuditQuery(start=query_moment(start, "start", end_of_day=False),
                      end=query_moment(end, "end", end_of_day=True), actor=actor or None, action=action or None)


@router.get("", summary="The audit log, newest first (a key for some projects sees theirs)")
def list_audit(principal: PrincipalDep, services: ServicesDep, start: Text = None, end: Text = None,
               actor: Text = None, action: Text = None, limit: int | None = None,
               cursor: str | None = None) -> dict[str, Any]:
    request = page_request(limit, cursor)
    records = services.audit.page(principal, _query(start, end, actor, action), request.cursor, request.limit)
    body: dict[str, Any] = {"records": [audit_document(r) for r in records]}
    if len(records) == request.limit:
        body["nextCursor"] = records[-1].id
    return body


@router.get("/export", summary="The audit log as JSON lines, newest first (keys for every project)",
            responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                             "description": "one audit record (as GET /api/1/audit shows it) per line"}})
def export_audit(principal: PrincipalDep, services: ServicesDep, start: Text = None, end: Text = None,
                 actor: Text = None, action: Text = None) -> JsonLinesResponse:
    records = services.audit.export(principal, _query(start, end, actor, action))
    first = next(records, None)  # refusals (a key for some projects) are raised before streaming

    def lines() -> Iterator[bytes]:
        if first is not None:
            yield orjson.dumps(audit_document(first)) + b"\n"
            for record in records:
                yield orjson.dumps(audit_document(record)) + b"\n"

    return JsonLinesResponse(lines(), headers={"content-disposition": 'attachment; filename="flagyard-audit.jsonl"'})

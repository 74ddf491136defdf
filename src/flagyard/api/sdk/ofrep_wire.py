"""What OFREP providers send: the deployment key in one of three headers, and a JSON context."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from flagyard.errors import Forbidden, Invalid, Unauthenticated
from flagyard.manage.model.access import KEY_PREFIX


def deployment_key(request: Request) -> str:
    """`Authorization: Bearer <key>` (OFREP's BearerAuth), `X-API-Key: <key>` (its ApiKeyAuth)
    or `Authorization: Api-Key <key>` (Amplitude's SDKs): every provider can send one of them."""
    scheme, _, secret = request.headers.get("authorization", "").strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() not in ("bearer", "api-key") or not secret:
        secret = request.headers.get("x-api-key", "").strip()
    if not secret:
        raise Unauthenticated(
            "send a deployment key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            code="missing_key")
    if secret.startswith(KEY_PREFIX):
        raise Forbidden("a management key evaluates nothing; use a deployment key",
                        code="wrong_key_type")
    return secret


def context_of(raw: bytes) -> Any:
    """The `context` of a request body `{"context": {...}}`."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise Invalid("request body is not valid JSON", code="parse_error") from None
    if not isinstance(body, dict):
        raise Invalid("request body must be a JSON object", code="parse_error")
    if "context" not in body:
        raise Invalid("context is required", code="invalid_context")
    return body["context"]

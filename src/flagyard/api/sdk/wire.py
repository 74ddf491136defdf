"""Reading what SDKs send: the deployment key, base64 headers, users."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from flagyard.errors import Invalid, Unauthenticated
from flagyard.measure.model.tracking import Tracking
from flagyard.serve.service import EncodedRequest


def deployment_key(request: Request) -> str:
    return key_in_authorization(request.headers.get("authorization", ""))


def key_in_authorization(header: str) -> str:
    """The deployment key of an `Authorization: Api-Key <key>` header."""
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        raise Unauthenticated("a management key evaluates nothing; use a deployment key",
                              code="wrong_key_type")
    if scheme.lower() != "api-key" or not secret.strip():
        raise Unauthenticated("missing Authorization header: send 'Api-Key <deployment key>'",
                              code="missing_key")
    return secret.strip()


@functools.lru_cache(maxsize=256)
def remote_mode(query_string: bytes) -> bool:
    """`eval_mode=remote` in the query: SDKs send the same few query strings over and over,
    and parsing one cost a tenth of a config request (profiled)."""
    return QueryParams(query_string).get("eval_mode") == "remote"


def decode_base64_json(raw: str, header: str) -> Any:
    """SDKs differ: base64url without padding (JS, Python) or standard padded (Go)."""
    text = raw.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return json.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise Invalid(f"{header} is not base64-encoded JSON", code="invalid_header") from None


def flag_keys_header(raw: str | None) -> list[str] | None:
    """The `X-Amp-Exp-Flag-Keys` header's keys; None when it is missing or empty."""
    if not raw:
        return None
    keys = decode_base64_json(raw, "X-Amp-Exp-Flag-Keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise Invalid("X-Amp-Exp-Flag-Keys must encode an array of flag keys", code="invalid_header")
    return keys or None


def user_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be a JSON object (the user)", code="invalid_user")
    return value


def parse_json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise Invalid(f"{where} is not valid JSON", code="invalid_json") from None


def tracking(request: Request) -> Tracking:
    headers = request.headers
    return tracking_asked(headers.get("x-amp-exp-track", ""), headers.get("x-amp-exp-exposure-track", ""))


def tracking_asked(track: str, exposure_track: str) -> Tracking:
    """`X-Amp-Exp-Track: no-track` turns assignments off; `X-Amp-Exp-Exposure-Track: track`
    asks for exposures too, as on Amplitude's servers."""
    return Tracking(assignment=track.lower() != "no-track", exposure=exposure_track.lower() == "track")


def vardata_body(body: bytes, raw_keys: str | None) -> EncodedRequest:
    """`POST /sdk/v2/vardata`'s user (the JSON body) and flag keys (`X-Amp-Exp-Flag-Keys`)."""

    def decode() -> tuple[dict[str, Any], list[str] | None]:
        return user_object(parse_json(body, "request body"), "request body"), flag_keys_header(raw_keys)

    return EncodedRequest(body + b"\n" + (raw_keys or "").encode(), decode)


def vardata_headers(raw_user: str | None, raw_keys: str | None) -> EncodedRequest:
    """`GET /sdk/v2/vardata`'s user (base64 in `X-Amp-Exp-User`) and flag keys."""

    def decode() -> tuple[dict[str, Any], list[str] | None]:
        user = user_object(decode_base64_json(raw_user, "X-Amp-Exp-User"), "X-Amp-Exp-User") \
            if raw_user else {}
        return user, flag_keys_header(raw_keys)

    return EncodedRequest(f"{raw_user or ''}\n{raw_keys or ''}", decode)

"""The one table from domain errors to HTTP status codes, and the error body.

Body: {"error": {"code": "<stable_snake_case>", "message": "<sentence naming the field>"}}.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from flagyard import errors

log = logging.getLogger("flagyard.api")

STATUS: dict[type[errors.DomainError], int] = {
    errors.PendingApproval: 202,  # not a failure: the change waits for review (its own body)
    errors.Invalid: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.Conflict: 409,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}


# Errors raised by the framework itself rather than by flagyard's own code. FastAPI answers 400
# when reading the body fails for a reason other than a syntax error (for example nesting too
# deep for the JSON parser); the body limit answers 413.
HTTP_CODES = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
HTTP_MESSAGES = {
    400: "request body could not be read as JSON: it is malformed or nested too deeply",
    404: "no such route",
}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def domain_error_response(error: errors.DomainError) -> JSONResponse:
    status = next((s for cls, s in STATUS.items() if isinstance(error, cls)), 500)
    if isinstance(error, errors.PendingApproval):
        return JSONResponse({"changeRequestId": str(error.change_request_id), "message": error.message},
                            status_code=status)
    headers = None
    if isinstance(error, errors.RateLimited | errors.Unavailable):
        headers = {"Retry-After": str(error.retry_after)}
    return error_response(status, error.code, error.message, headers)


def install(app: FastAPI) -> None:
    async def on_domain_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, errors.DomainError)
        return domain_error_response(error)

    async def on_validation_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0]
        return error_response(400, _code(first), describe(first))

    async def on_http_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = HTTP_CODES.get(error.status_code, "http_error")
        message = HTTP_MESSAGES.get(error.status_code, str(error.detail))
        return error_response(error.status_code, code, message, getattr(error, "headers", None))

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error")

    app.add_exception_handler(errors.DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


# --- turning a pydantic error into a sentence that names the field -------------------------

_TYPE_WORDS = {
    "bool_type": "must be a boolean",
    "bool_parsing": "must be a boolean",
    "string_type": "must be a string",
    "string_unicode": "must be valid Unicode text (no unpaired surrogates)",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "missing": "is required",
    "extra_forbidden": "is not allowed",
    "string_too_long": "is too long",
    "string_too_short": "must not be empty",
    "too_long": "has too many items",
    "too_short": "has too few items",
    "greater_than_equal": "is too small",
    "less_than_equal": "is too large",
    "finite_number": "must be a finite number",
    "literal_error": "has an invalid value",
    "enum": "has an invalid value",
    "int_too_big": "is too large",
}


def field_path(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "json-or-python", "lax-or-strict", "union[")):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    if kind == "json_invalid":
        return "request body is not valid JSON"
    path = field_path(loc)
    if not path:
        if kind == "missing":
            return "request body is required"
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            return "request body must be a JSON object"
        return f"request body is invalid: {error.get('msg', '')}"
    if kind == "value_error":
        reason = str(error.get("ctx", {}).get("error", error.get("msg", "")))
        return f"{path} {reason}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected")
        return f"{path} must be one of {expected}" if expected else f"{path} has an invalid value"
    words = _TYPE_WORDS.get(kind)
    if words:
        return f"{path} {words}"
    return f"{path}: {error.get('msg', 'is invalid')}"


def _code(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "json_invalid":
        return "invalid_json"
    if kind == "missing":
        return "missing_field"
    if kind == "extra_forbidden":
        return "unknown_field"
    return "invalid_field"

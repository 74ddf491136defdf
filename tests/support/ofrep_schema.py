"""OFREP answers checked against the published OFREP 0.3.0 OpenAPI document.

`tests/data/ofrep/openapi.yaml` is the document as published (its source is in `SOURCE` beside
it); it is loaded as is and read as written, with two readings its own descriptions state,
applied to the loaded copy:

1. `evaluationSuccess`'s `oneOf` over the value types (boolean, string, integer, float, object,
   code default) is read as `anyOf`. As published, an integer matches both `integerFlag` and
   `floatFlag` (an integer is a number), so no integer value could ever pass a `oneOf`.
2. `codeDefaultFlag` is read as having no `value`, as its description says ("This schema has no
   `value` property"). As published it is `{type: object, properties: {}}`, which every
   evaluation matches, so with (1) alone any value at all (an array, `null`) would pass as a
   code default.

Everything else is as published: the reason list, the error-code lists, required fields, the
metadata value types, the bulk `oneOf` of success and failure. Formats are annotations, as in
JSON Schema 2020-12 (the dialect of OpenAPI 3.1). A status the route does not declare fails;
a declared status without content (401, 403, 429; 304 must have no body) admits any body.

`check_answer` checks one answer; `validating_client` is an `httpx.Client` that checks every
answer it receives, so a test cannot read an OFREP answer that was not checked.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "ofrep" / "openapi.yaml"
_BASE_URI = "urn:flagyard-tests:ofrep-0.3.0-openapi"
_PREFIX = "/ofrep/v1/"
BULK = "/ofrep/v1/evaluate/flags"
SINGLE = "/ofrep/v1/evaluate/flags/{key}"


class OfrepAnswerError(AssertionError):
    """An answer outside OFREP 0.3.0."""


@cache
def published() -> dict[str, Any]:
    """The stored document, exactly as published."""
    document = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert document["info"]["version"] == "0.3.0", document["info"]
    return dict(document)


@cache
def spec() -> dict[str, Any]:
    """The document with the two readings of the module docstring applied (to a copy)."""
    document = copy.deepcopy(published())
    schemas = document["components"]["schemas"]
    value_types = schemas["evaluationSuccess"]["allOf"][1]
    assert list(value_types) == ["oneOf"] and len(value_types["oneOf"]) == 6, value_types
    value_types["anyOf"] = value_types.pop("oneOf")
    code_default = schemas["codeDefaultFlag"]
    assert code_default.get("properties") == {} and "not" not in code_default, code_default
    code_default["not"] = {"required": ["value"]}
    return document


@cache
def _registry(as_published: bool = False) -> Registry[Any]:
    resource = DRAFT202012.create_resource(published() if as_published else spec())
    return Registry().with_resource(_BASE_URI, resource)


def route(path: str) -> str:
    """The OFREP path template a request path falls under."""
    at = path.find(_PREFIX)
    path = path[at:] if at >= 0 else path
    if path == BULK:
        return BULK
    if path.startswith(BULK + "/") and len(path) > len(BULK) + 1:
        return SINGLE
    raise OfrepAnswerError(f"{path} is not a route of OFREP 0.3.0")


def _pointer(*segments: str) -> str:
    return "".join("/" + quote(s.replace("~", "~0").replace("/", "~1"), safe="~")
                   for s in segments)


def check_answer(method: str, path: str, status: int, body: bytes,
                 content_type: str | None = "application/json") -> None:
    """Raise `OfrepAnswerError` unless OFREP 0.3.0 allows this answer to this request."""
    template = route(path)
    operation = spec()["paths"][template].get(method.lower())
    if operation is None:
        raise OfrepAnswerError(f"OFREP 0.3.0 has no {method} {template}")
    declared = operation["responses"].get(str(status))
    if declared is None:
        raise OfrepAnswerError(
            f"{method} {template} answered {status}; OFREP 0.3.0 declares only "
            f"{', '.join(sorted(operation['responses']))}")
    content = declared.get("content")
    if not content:
        if status == 304 and body:
            raise OfrepAnswerError(f"{method} {template}: a 304 with a body: {body[:200]!r}")
        return
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in content:
        raise OfrepAnswerError(f"{method} {template} {status}: content type {content_type!r}, "
                               f"not one of {sorted(content)}")
    try:
        instance = json.loads(body)
    except ValueError as error:
        raise OfrepAnswerError(f"{method} {template} {status}: not JSON ({error}): "
                               f"{body[:200]!r}") from None
    check_body(template, method, status, instance, media_type)


def check_body(template: str, method: str, status: int, instance: Any,
               media_type: str = "application/json", *, as_published: bool = False) -> None:
    """Raise `OfrepAnswerError` unless `instance` fits the response schema for this status
    (`as_published`: without the module's two readings, to show why they are needed)."""
    ref = _BASE_URI + "#" + _pointer("paths", template, method.lower(), "responses", str(status),
                                     "content", media_type, "schema")
    validator = Draft202012Validator({"$ref": ref}, registry=_registry(as_published))
    errors = list(validator.iter_errors(instance))
    if errors:
        best = best_match(errors)
        where = "/".join(str(p) for p in best.absolute_path) or "(the body)"
        raise OfrepAnswerError(
            f"{method} {template} {status}: not an OFREP 0.3.0 answer: at {where}: "
            f"{best.message}\nbody: {json.dumps(instance)[:2000]}")


def check_response(response: httpx.Response) -> None:
    """`check_answer` for an httpx response (read here if it was not yet)."""
    response.read()
    request = response.request
    check_answer(request.method, request.url.path, response.status_code, response.content,
                 response.headers.get("content-type"))


def validating_client(**kwargs: Any) -> httpx.Client:
    """An `httpx.Client` that checks every answer it receives against OFREP 0.3.0."""
    hooks = dict(kwargs.pop("event_hooks", None) or {})
    hooks["response"] = [*hooks.get("response", []), check_response]
    return httpx.Client(event_hooks=hooks, **kwargs)

"""A JSON response serialised by orjson, for handlers that return plain JSON-ready data.

Returning it from a route skips FastAPI's `jsonable_encoder` walk, which profiling showed
costs more than the rest of a list request together. Bytes match Starlette's JSONResponse
(compact, UTF-8); integers beyond 64 bits, which orjson refuses, fall back to `json`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response


def dump_json(content: Any) -> bytes:
    try:
        return orjson.dumps(content)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dump_json(content)


class JSONBytesResponse(Response):
    """JSON already serialised (by `dump_json`), sent as it is."""

    media_type = "application/json"

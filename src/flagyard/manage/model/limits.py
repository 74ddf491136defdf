"""What the store and every client can keep: checks shared by request bodies and project files.

Each check returns the value or raises ValueError with the words that follow the field's name.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_INT = 2**31 - 1  # fits every database's INTEGER
MAX_PAYLOAD_DEPTH = 64
MAX_PAYLOAD_CHARS = 65_536  # a payload travels to every SDK with each flag
MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer JavaScript SDKs read back exactly


def unicode_text(value: str) -> str:
    """Text every store and every client can hold: no NUL, no unpaired UTF-16 surrogate."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no unpaired surrogates)") from None
    return value


def json_value(value: Any) -> Any:
    _json_node(value, 0)
    if len(json.dumps(value, ensure_ascii=False)) > MAX_PAYLOAD_CHARS:
        raise ValueError(f"is longer than {MAX_PAYLOAD_CHARS} characters as JSON")
    return value


def _json_node(value: Any, depth: int) -> None:
    if depth > MAX_PAYLOAD_DEPTH:
        raise ValueError(f"is nested deeper than {MAX_PAYLOAD_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must not contain NaN or Infinity")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(f"must not contain integers beyond ±{MAX_SAFE_INTEGER}")
    if isinstance(value, str):
        unicode_text(value)
    elif isinstance(value, list):
        for item in value:
            _json_node(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("must have text keys only")
            unicode_text(key)
            _json_node(item, depth + 1)
    elif value is not None and not isinstance(value, bool | int | float):
        raise ValueError("must be JSON (text, numbers, booleans, null, arrays and objects)")

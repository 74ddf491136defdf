"""Turning selected context values into the strings the operators compare.

Mirrors the Python SDK: containers become `json.dumps` text and other scalars
`str(value)`, so `True` reads as "True" and `1.0` as "1.0".
"""

from __future__ import annotations

import json
from typing import Any


def coerce_string(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def coerce_string_list(value: Any) -> list[str] | None:
    """The value as a list of strings when it is multi-valued, else None.

    A list qualifies, and so does text that starts with "[" and parses as a JSON array.
    Null elements are dropped.
    """
    if isinstance(value, list):
        items: list[Any] = value
    else:
        text = value if type(value) is str else str(value)
        if not text.startswith("["):
            return None
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(parsed, list):
            return None
        items = parsed
    out: list[str] = []
    for item in items:
        if item is None:
            continue
        if type(item) is str:
            out.append(item)
        elif isinstance(item, (dict, list)):
            out.append(json.dumps(item))
        else:
            out.append(str(item))
    return out

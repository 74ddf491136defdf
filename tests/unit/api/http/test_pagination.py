"""The list envelope joined from serialised items reads exactly as the serialised envelope."""

from __future__ import annotations

from typing import Any

import pytest

from flagyard.api.http.fast_json import dump_json
from flagyard.api.http.pagination import envelope, envelope_bytes
from flagyard.manage.model.paging import Page

ITEMS: list[dict[str, Any]] = [
    {"id": "3", "name": "Umlaut ü, emoji 🚩, quote \" and line\nbreak", "payload": {"n": 1.5}},
    {"id": "2", "payload": None, "tags": [], "huge": 2**70},  # beyond orjson: the json fallback
    {"id": "1", "payload": [{"nested": True}], "description": "\u2028"},
]


@pytest.mark.parametrize("items", [[], ITEMS[:1], ITEMS], ids=["empty", "one", "several"])
@pytest.mark.parametrize("next_cursor", [None, 7, 2**62])
def test_envelope_bytes__same_bytes_as_the_serialised_envelope(
    items: list[dict[str, Any]], next_cursor: int | None
) -> None:
    whole = dump_json(envelope("flags", Page(items, next_cursor), lambda item: item))
    joined = envelope_bytes("flags", Page([dump_json(item) for item in items], next_cursor))
    assert joined == whole

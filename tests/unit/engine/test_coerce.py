from __future__ import annotations

from typing import Any

import pytest

from flagyard.engine.coerce import coerce_string, coerce_string_list


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("a", "a"),
        (True, "True"),
        (1, "1"),
        (1.0, "1.0"),
        (["a", 1], '["a", 1]'),
        ({"k": "v"}, '{"k": "v"}'),
    ],
)
def test_coerce_string__value__reads_like_python_sdk(value: Any, expected: str | None) -> None:
    # Given / When / Then
    assert coerce_string(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", None, 1, True, ["x"]], ["a", "1", "True", '["x"]']),
        ('["a", 2, null]', ["a", "2"]),
        ("[]", []),
        ("a", None),
        ("[not json", None),
        ('["unterminated"', None),
        ('{"a": 1}', None),
        (5, None),
    ],
)
def test_coerce_string_list__value__lists_only_multi_valued(value: Any, expected: list[str] | None) -> None:
    # Given / When / Then
    assert coerce_string_list(value) == expected

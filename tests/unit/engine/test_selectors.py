from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

from flagyard.engine.result import EvaluationResult
from flagyard.engine.selectors import compile_selector, select

TARGET: dict[str, Any] = {
    "context": {
        "user": {"user_id": "u", "user_properties": {"plan": "pro", "zero": 0, "n": {"a": 1}}},
        "groups": {"org": {"group_name": "acme"}},
    },
    "result": {"parent": EvaluationResult("on", "v", {"p": 1}, {"segmentName": "s"})},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (["context", "user", "user_id"], "u"),
        (["context", "user", "user_properties", "plan"], "pro"),
        (["context", "user", "user_properties", "zero"], 0),
        (["context", "user", "user_properties", "n", "a"], 1),
        (["context", "groups", "org", "group_name"], "acme"),
        (["result", "parent", "key"], "on"),
        (["result", "parent", "payload", "p"], 1),
        (["result", "parent", "metadata", "segmentName"], "s"),
    ],
)
def test_select__existing_path__returns_value(path: list[str], expected: Any) -> None:
    # Given / When / Then
    assert select(TARGET, path) == expected


@pytest.mark.parametrize(
    "path",
    [
        [],
        None,
        ["context", "", "user_id"],
        ["context", "user", "missing"],
        ["context", "user", "user_id", "deeper"],
        ["result", "missing", "key"],
        ["result", "parent", "_fields"],
        ["result", "parent", "key", "x", "y"],
        ["nope"],
    ],
)
def test_select__missing_or_invalid_path__returns_none(path: list[str] | None) -> None:
    # Given / When / Then
    assert select(TARGET, path) is None


def test_select__other_mapping_types__are_readable() -> None:
    # Given
    target = {"context": OrderedDict(user=OrderedDict(user_id="u"))}

    # When
    value = compile_selector(["context", "user", "user_id"])(target)

    # Then
    assert value == "u"


def test_select__long_path__walks_every_step() -> None:
    # Given
    target = {"a": {"b": {"c": {"d": {"e": 5}}}}}

    # When
    value = select(target, ["a", "b", "c", "d", "e"])

    # Then
    assert value == 5

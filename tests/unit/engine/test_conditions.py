from __future__ import annotations

from typing import Any

import pytest

from flagyard.engine import InvalidFlag
from flagyard.engine.conditions import compile_condition

SELECTOR = ["context", "user", "user_properties", "p"]


def _matches(op: str, values: list[str], prop: Any) -> bool:
    target = {"context": {"user": {"user_properties": {"p": prop}}}, "result": {}}
    return compile_condition(SELECTOR, op, values)(target)


@pytest.mark.parametrize(
    ("op", "values", "prop", "expected"),
    [
        ("is", ["a", "b"], "b", True),
        ("is", ["a"], "A", False),
        ("is", ["true"], "TRUE", True),
        ("is", ["true"], True, True),
        ("is", ["false"], "0", False),
        ("is not", ["a"], "b", True),
        ("is not", ["a"], ["a", "b"], True),
        ("contains", ["B"], "abc", True),
        ("contains", ["x", "BC"], "abc", True),
        ("does not contain", ["B"], "abc", False),
        ("less", ["2"], "1.5", True),
        ("less", ["10"], "9", True),
        ("less", ["b"], "a", True),
        ("less", ["x", "2"], "10", False),
        ("less or equal", ["1.5"], 1.5, True),
        ("greater", ["1.2"], "1e3", True),
        ("greater", ["m"], "zebra", True),
        ("greater or equal", ["10"], 10, True),
        ("version less", ["1.10.0"], "1.2.3", True),
        ("version less", ["1.10.0"], "1.9", True),
        ("version less or equal", ["1.2.3"], "1.2.3-beta", True),
        ("version greater", ["1.2.3-alpha"], "1.2.3-beta", True),
        ("version greater or equal", ["1.10.0-beta"], "1.10.0", True),
        ("version greater", ["abc"], "abd", True),
        ("regex match", ["^a", "z$"], "xyz", True),
        ("regex match", ["b"], "abc", True),
        ("regex does not match", ["^a"], "abc", False),
        ("glob match", ["*"], "anything", False),
    ],
)
def test_condition__non_null_value__matches_like_python_sdk(
    op: str, values: list[str], prop: Any, expected: bool
) -> None:
    # Given / When / Then
    assert _matches(op, values, prop) is expected


@pytest.mark.parametrize("prop", [None, "", 0, False, [], {}])
@pytest.mark.parametrize(
    ("op", "values", "expected"),
    [
        ("is", ["(none)"], True),
        ("is", ["a"], False),
        ("is not", ["a"], True),
        ("is not", ["(none)"], False),
        ("does not contain", ["a"], True),
        ("version less", ["(none)", "1.0"], True),
        ("set contains any", ["(none)"], True),
        ("set does not contain any", ["a"], True),
        ("set is not", ["a"], False),
        ("regex does not match", ["a"], False),
        ("glob match", ["(none)"], False),
    ],
)
def test_condition__missing_or_falsy_value__uses_null_rule(
    prop: Any, op: str, values: list[str], expected: bool
) -> None:
    # Given / When / Then
    assert _matches(op, values, prop) is expected


@pytest.mark.parametrize(
    ("op", "values", "prop", "expected"),
    [
        ("set is", ["a", "b"], ["b", "a", "a"], True),
        ("set is", ["a", "b"], ["a"], False),
        ("set is not", ["a", "b"], ["a"], True),
        ("set contains", ["a"], ["a", "b"], True),
        ("set contains", ["a", "a"], ["a"], False),
        ("set contains", ["TRUE"], [True], True),
        ("set contains", ["TRUE"], ["yes"], False),
        ("set does not contain", ["c"], ["a", "b"], True),
        ("set contains any", ["c", "b"], ["a", "b"], True),
        ("set contains any", ["FALSE"], ["false"], True),
        ("set does not contain any", ["c"], ["a", "b"], True),
        ("set contains any", ["a"], '["a", "b"]', True),
        ("set contains any", ["a"], "a", False),
        ("set contains any", ["a"], [None], False),
        ("set is not", ["a"], "[]", False),
    ],
)
def test_condition__set_operator__compares_as_sets(
    op: str, values: list[str], prop: Any, expected: bool
) -> None:
    # Given / When / Then
    assert _matches(op, values, prop) is expected


def test_condition__invalid_regex__raises_invalid_flag() -> None:
    # Given / When / Then
    with pytest.raises(InvalidFlag, match=r"values\[1\] is not a valid regular expression"):
        compile_condition(SELECTOR, "regex match", ["ok", "("])


def test_condition__empty_selector__always_uses_null_rule() -> None:
    # Given
    target = {"context": {"user": {"p": "a"}}, "result": {}}

    # When
    matched = compile_condition([], "is not", ["a"])(target)

    # Then
    assert matched is True

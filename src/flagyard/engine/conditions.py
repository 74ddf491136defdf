"""Compiling a condition (selector, op, values) into a fast predicate on the target.

Everything that depends only on the filter values (sets, lower-cased text, parsed
numbers and versions, compiled regexes) is computed once here, so a match costs a
selection plus one or two cheap operations.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from . import operators as ops
from .coerce import coerce_string, coerce_string_list
from .errors import InvalidFlag
from .selectors import compile_selector
from .semver import VersionKey, parse_version

Matcher = Callable[[Any], bool]
"""Predicate on the evaluation target."""
StringTest = Callable[[str], bool]
SetTest = Callable[[list[str]], bool]

_BOOLEANS = frozenset({"true", "false"})
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    ops.LESS: operator.lt,
    ops.LESS_OR_EQUAL: operator.le,
    ops.GREATER: operator.gt,
    ops.GREATER_OR_EQUAL: operator.ge,
    ops.VERSION_LESS: operator.lt,
    ops.VERSION_LESS_OR_EQUAL: operator.le,
    ops.VERSION_GREATER: operator.gt,
    ops.VERSION_GREATER_OR_EQUAL: operator.ge,
}


def _negate(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: not test(value)


def _is_test(values: tuple[str, ...]) -> StringTest:
    exact = frozenset(values)
    # A filter value spelled "true"/"false" makes the comparison of boolean text
    # case-insensitive ("TRUE" is "true"); any other text still compares exactly.
    booleans = frozenset(v.lower() for v in values if v.lower() in _BOOLEANS)
    if not booleans:
        return exact.__contains__
    return lambda text: text in exact or text.lower() in booleans


def _contains_test(values: tuple[str, ...]) -> StringTest:
    needles = tuple(v.lower() for v in values)
    if len(needles) == 1:
        needle = needles[0]
        return lambda text: needle in text.lower()

    def test(text: str) -> bool:
        haystack = text.lower()
        return any(needle in haystack for needle in needles)

    return test


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _ordered_test(
    values: tuple[str, ...],
    compare: Callable[[Any, Any], bool],
    parse: Callable[[str], Any],
) -> StringTest:
    """Compare parsed values; when the property or every filter value fails to
    parse, compare the raw strings instead."""
    parsed = tuple(p for p in map(parse, values) if p is not None)

    def as_text(text: str) -> bool:
        return any(compare(text, raw) for raw in values)

    if not parsed:
        return as_text
    if len(parsed) == 1:
        only = parsed[0]

        def test_one(text: str) -> bool:
            mine = parse(text)
            if mine is None:
                return as_text(text)
            return compare(mine, only)

        return test_one

    def test(text: str) -> bool:
        mine = parse(text)
        if mine is None:
            return as_text(text)
        return any(compare(mine, other) for other in parsed)

    return test


def _version_key(text: str) -> VersionKey | None:
    return parse_version(text)


def _regex_test(values: tuple[str, ...]) -> StringTest:
    patterns = []
    for index, pattern in enumerate(values):
        try:
            patterns.append(re.compile(pattern))
        except (re.error, RecursionError, OverflowError) as exc:
            raise InvalidFlag(f"values[{index}] is not a valid regular expression: {exc}") from None
    searches = tuple(p.search for p in patterns)
    if len(searches) == 1:
        search = searches[0]
        return lambda text: search(text) is not None
    return lambda text: any(search(text) is not None for search in searches)


def _string_test(op: str, values: tuple[str, ...]) -> StringTest | None:
    if op == ops.IS:
        return _is_test(values)
    if op == ops.IS_NOT:
        return _negate(_is_test(values))
    if op == ops.CONTAINS:
        return _contains_test(values)
    if op == ops.DOES_NOT_CONTAIN:
        return _negate(_contains_test(values))
    if op in ops.NUMERIC_OPS:
        return _ordered_test(values, _ORDER[op], _parse_float)
    if op in ops.VERSION_OPS:
        return _ordered_test(values, _ORDER[op], _version_key)
    if op == ops.REGEX_MATCH:
        return _regex_test(values)
    if op == ops.REGEX_DOES_NOT_MATCH:
        return _negate(_regex_test(values))
    return None


def _set_member_test(values: tuple[str, ...]) -> Callable[[list[str]], list[bool]]:
    """Per filter value: is it among the items? Boolean text ("true"/"false") is
    looked up case-insensitively, other text exactly."""
    prepared = tuple((v.lower(), True) if v.lower() in _BOOLEANS else (v, False) for v in values)

    def members(items: list[str]) -> list[bool]:
        present = set(items)
        lowered = {item.lower() for item in items}
        return [(v in lowered) if folded else (v in present) for v, folded in prepared]

    return members


def _contains_all_test(values: tuple[str, ...]) -> SetTest:
    wanted = frozenset(values)
    # Duplicate filter values count: the property needs at least as many items.
    count = len(values)
    if not any(v.lower() in _BOOLEANS for v in values):
        return lambda items: len(items) >= count and wanted.issubset(items)
    members = _set_member_test(values)
    return lambda items: len(items) >= count and all(members(items))


def _contains_any_test(values: tuple[str, ...]) -> SetTest:
    wanted = frozenset(values)
    if not any(v.lower() in _BOOLEANS for v in values):
        return lambda items: not wanted.isdisjoint(items)
    members = _set_member_test(values)
    return lambda items: any(members(items))


def _set_test(op: str, values: tuple[str, ...]) -> SetTest:
    if op in (ops.SET_IS, ops.SET_IS_NOT):
        wanted = frozenset(values)
        if op == ops.SET_IS:
            return lambda items: wanted == set(items)
        return lambda items: wanted != set(items)
    if op == ops.SET_CONTAINS:
        return _contains_all_test(values)
    if op == ops.SET_DOES_NOT_CONTAIN:
        return _negate(_contains_all_test(values))
    if op == ops.SET_CONTAINS_ANY:
        return _contains_any_test(values)
    return _negate(_contains_any_test(values))


def _constant(result: bool) -> Matcher:
    return (lambda target: True) if result else (lambda target: False)


def compile_condition(selector: Sequence[str], op: str, values: Sequence[str]) -> Matcher:
    """Predicate telling whether the target satisfies the condition.

    Raises InvalidFlag for a regular expression that does not compile.
    """
    values = tuple(values)
    select = compile_selector(selector)
    on_null = ops.null_outcome(op, values)

    if op in ops.SET_OPS:
        set_test = _set_test(op, values)

        def match_set(target: Any) -> bool:
            value = select(target)
            if not value:
                return on_null
            items = coerce_string_list(value)
            if not items:
                return False
            return set_test(items)

        return match_set

    test = _string_test(op, values)
    if test is None:  # unknown operators never match
        return _constant(False)
    string_test = test

    def match(target: Any) -> bool:
        value = select(target)
        # Falsy values ("" 0 false [] {}) count as missing, like the Python SDK.
        if not value:
            return on_null
        if type(value) is str:
            if value[0] != "[":
                return string_test(value)
            text = value
        elif isinstance(value, list):
            return any(map(string_test, coerce_string_list(value) or ()))
        else:
            text = coerce_string(value) or ""
            if not text.startswith("["):
                return string_test(text)
        items = coerce_string_list(text)
        if items is None:
            return string_test(text)
        # Multi-valued: any element may satisfy the op, negated ops included.
        return any(map(string_test, items))

    return match

"""Targeting pieces of the evaluation compiler: globs, selectors, distribution ranges."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flagyard.serve.compile.segments import (
    DISTRIBUTION_END,
    Uncompilable,
    bucket_selector,
    compile_condition,
    distributions,
    glob_to_regex,
    weights,
)


@pytest.mark.parametrize(
    ("glob", "value", "matches"),
    [
        ("*@acme.com", "jo@acme.com", True),
        ("*@acme.com", "jo@acme.com.evil", False),
        ("*@acme.com", "jo@acmeXcom", False),
        ("v?.0", "v2.0", True),
        ("v?.0", "v10.0", False),
        ("a+b(c)[d]{e}|f^g$h\\i", "a+b(c)[d]{e}|f^g$h\\i", True),
        ("", "", True),
        ("", "x", False),
    ],
)
def test_glob_to_regex__glob_and_value__matches_whole_value_only(
    glob: str, value: str, matches: bool
) -> None:
    # Given / When
    pattern = glob_to_regex(glob)

    # Then
    assert bool(re.search(pattern, value)) is matches


@given(text=st.text())
def test_glob_to_regex__any_text_without_wildcards__matches_itself_only(text: str) -> None:
    # Given
    literal = text.replace("*", "").replace("?", "")

    # When
    pattern = glob_to_regex(literal)

    # Then
    assert re.search(pattern, literal)
    assert not re.search(pattern, literal + "x")


@pytest.mark.parametrize(
    ("key", "unit", "selector"),
    [
        ("device_id", "User", ["context", "user", "device_id"]),
        ("user_id", "User", ["context", "user", "user_id"]),
        ("amplitude_id", "User", ["context", "user", "amplitude_id"]),
        ("account", "User", ["context", "user", "user_properties", "account"]),
        ("device_id", "org name", ["context", "groups", "org name", "group_name"]),
    ],
)
def test_bucket_selector__key_and_unit__selects_expected_path(
    key: str, unit: str, selector: list[str]
) -> None:
    # Given / When / Then
    assert bucket_selector(key, unit) == selector


@pytest.mark.parametrize(
    ("weighted", "expected"),
    [
        ([("on", 1)], [("on", 0, DISTRIBUTION_END)]),
        ([("a", 1), ("b", 1)], [("a", 0, 21474837), ("b", 21474837, DISTRIBUTION_END)]),
        ([("a", 1), ("b", 99)], [("a", 0, 429497), ("b", 429497, DISTRIBUTION_END)]),
        ([("a", 99), ("b", 1)], [("a", 0, 42520177), ("b", 42520177, DISTRIBUTION_END)]),
        ([("a", 0), ("b", 3)], [("b", 0, DISTRIBUTION_END)]),
        ([("a", 0), ("b", 0)], []),
    ],
)
def test_distributions__weights__ranges_end_at_ceil_of_cumulative_share(
    weighted: list[tuple[str, int]], expected: list[tuple[str, int, int]]
) -> None:
    # Given / When
    result = distributions(weighted)

    # Then
    assert [(d["variant"], d["range"][0], d["range"][1]) for d in result] == expected


@given(weighted=st.lists(st.integers(0, 1000), min_size=1, max_size=8))
def test_distributions__any_weights__ranges_tile_the_space_in_proportion(
    weighted: list[int],
) -> None:
    # Given
    pairs = [(f"v{i}", weight) for i, weight in enumerate(weighted)]
    total = sum(weighted)

    # When
    result = distributions(pairs)

    # Then
    if total == 0:
        assert result == []
        return
    assert result[0]["range"][0] == 0
    assert result[-1]["range"][1] == DISTRIBUTION_END
    for before, after in itertools.pairwise(result):
        assert before["range"][1] == after["range"][0]
    for d in result:
        weight = dict(pairs)[d["variant"]]
        width = d["range"][1] - d["range"][0]
        assert abs(width - weight * DISTRIBUTION_END / total) <= 1


def test_weights__unknown_variant__is_uncompilable() -> None:
    # Given / When / Then
    with pytest.raises(Uncompilable, match="ghost"):
        weights({"control": 1, "ghost": 1}, ["control"], "rolloutWeights")


def test_weights__float_with_fraction__is_uncompilable() -> None:
    # Given / When / Then
    with pytest.raises(Uncompilable):
        weights({"control": 1.5}, ["control"], "rolloutWeights")


@pytest.mark.parametrize(
    ("prop", "selector"),
    [
        ("country", ["context", "user", "country"]),
        ("cohort_ids", ["context", "user", "cohort_ids"]),
        ("gp:plan", ["context", "user", "user_properties", "plan"]),
        ("gp:country", ["context", "user", "user_properties", "country"]),
        ("plan", ["context", "user", "user_properties", "plan"]),
    ],
)
def test_compile_condition__prop__maps_to_selector(prop: str, selector: list[str]) -> None:
    # Given
    condition = {"type": "property", "prop": prop, "op": "is", "values": ["x"]}

    # When
    compiled = compile_condition(condition, "c")

    # Then
    assert compiled == {"selector": selector, "op": "is", "values": ["x"]}


def test_compile_condition__group_type__selects_group_property() -> None:
    # Given
    condition = {
        "type": "property",
        "prop": "gp:plan",
        "group_type": "org name",
        "op": "is",
        "values": ["ent"],
    }

    # When
    compiled = compile_condition(condition, "c")

    # Then
    assert compiled["selector"] == ["context", "groups", "org name", "group_properties", "plan"]


def test_compile_condition__group_type_cohort_ids__selects_the_groups_cohorts() -> None:
    # Given a condition on the cohorts of an "org name" group
    condition = {
        "type": "property",
        "prop": "cohort_ids",
        "group_type": "org name",
        "op": "set contains any",
        "values": ["c0ffee12"],
    }

    # When
    compiled = compile_condition(condition, "c")

    # Then: where Amplitude's SDKs put a group's cohort ids
    assert compiled["selector"] == ["context", "groups", "org name", "cohort_ids"]


def test_compile_condition__numbers_and_booleans__become_strings() -> None:
    # Given
    condition = {"type": "property", "prop": "age", "op": "greater", "values": [18, 2.5, True]}

    # When
    compiled = compile_condition(condition, "c")

    # Then
    assert compiled["values"] == ["18", "2.5", "true"]


@pytest.mark.parametrize(
    "condition",
    [
        {"type": "cohort", "prop": "x", "op": "is", "values": []},
        {"type": "property", "prop": "", "op": "is", "values": []},
        {"type": "property", "prop": "x", "op": "resembles", "values": []},
        {"type": "property", "prop": "x", "op": "is", "values": "not-a-list"},
        {"type": "property", "prop": "x", "op": "regex match", "values": ["("]},
        "not-an-object",
    ],
)
def test_compile_condition__malformed__is_uncompilable(condition: object) -> None:
    # Given / When / Then
    with pytest.raises(Uncompilable):
        compile_condition(condition, "c")

from __future__ import annotations

import pytest

from flagyard.engine import CycleError, Flag, InvalidFlag
from flagyard.engine.topo import sort_flags


def _flag(key: str, *parents: str) -> Flag:
    return Flag(key=key, variants={}, segments=(), dependencies=parents or None)


def _keys(flags: list[Flag]) -> list[str]:
    return [flag.key for flag in flags]


def test_sort_flags__no_keys__parents_before_children_in_mapping_order() -> None:
    # Given
    flags = {f.key: f for f in [_flag("c", "b"), _flag("a"), _flag("b", "a"), _flag("d")]}

    # When / Then
    assert _keys(sort_flags(flags)) == ["a", "b", "c", "d"]


def test_sort_flags__requested_keys__visits_them_depth_first_in_order() -> None:
    # Given
    flags = {f.key: f for f in [_flag("a"), _flag("b", "a"), _flag("c"), _flag("d", "c", "a")]}

    # When / Then
    assert _keys(sort_flags(flags, ["d", "b"])) == ["c", "a", "d", "b"]


def test_sort_flags__unknown_keys_and_parents__are_skipped() -> None:
    # Given
    flags = {f.key: f for f in [_flag("a", "ghost")]}

    # When / Then
    assert _keys(sort_flags(flags, ["missing", "a", "a"])) == ["a"]


def test_sort_flags__empty_request__evaluates_nothing() -> None:
    # Given
    flags = {"a": _flag("a")}

    # When / Then
    assert sort_flags(flags, []) == []


@pytest.mark.parametrize(
    "flags",
    [[_flag("a", "a")], [_flag("a", "b"), _flag("b", "a")], [_flag("a", "b"), _flag("b", "c"), _flag("c", "a")]],
)
def test_sort_flags__cycle__raises_cycle_error(flags: list[Flag]) -> None:
    # Given
    by_key = {f.key: f for f in flags}

    # When / Then
    with pytest.raises(CycleError, match="dependency cycle between flags a ->") as info:
        sort_flags(by_key)
    assert isinstance(info.value, InvalidFlag)
    assert info.value.path[0] == info.value.path[-1] == "a"


def test_sort_flags__cycle_not_reached__is_not_an_error() -> None:
    # Given
    flags = {f.key: f for f in [_flag("x", "y"), _flag("y", "x"), _flag("ok")]}

    # When / Then
    assert _keys(sort_flags(flags, ["ok"])) == ["ok"]

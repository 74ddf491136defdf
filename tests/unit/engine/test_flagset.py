from __future__ import annotations

import pytest

from flagyard.engine import CycleError, Flag, FlagSet


def _flag(key: str, *parents: str) -> Flag:
    return Flag(key=key, variants={}, segments=(), dependencies=parents or None)


def test_flag_set__duplicate_keys__later_flag_wins() -> None:
    # Given
    first, second = _flag("a"), _flag("a", "b")

    # When
    flags = FlagSet([first, second])

    # Then
    assert len(flags) == 1 and flags["a"] is second and list(flags) == ["a"]


def test_flag_set__ordered_all__cached_and_dependency_first() -> None:
    # Given
    flags = FlagSet([_flag("child", "parent"), _flag("parent")])

    # When
    order = flags.ordered()

    # Then
    assert [f.key for f in order] == ["parent", "child"]
    assert flags.ordered() is order


def test_flag_set__ordered_keys__sorted_per_request() -> None:
    # Given
    flags = FlagSet({"a": _flag("a"), "b": _flag("b", "a")})

    # When / Then
    assert [f.key for f in flags.ordered(["b"])] == ["a", "b"]


def test_flag_set__cycle__raises_when_ordering() -> None:
    # Given
    flags = FlagSet([_flag("a", "b"), _flag("b", "a")])

    # When / Then
    with pytest.raises(CycleError):
        flags.ordered()

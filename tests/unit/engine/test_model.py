from __future__ import annotations

import dataclasses

import pytest

from flagyard.engine import Bucket, Condition, Flag, InvalidFlag, Segment, Variant
from flagyard.engine.model import Allocation, Distribution


def test_condition__constructed__is_frozen_and_compiled() -> None:
    # Given
    condition = Condition(("context", "user", "user_id"), "is", ("u",))

    # When / Then
    assert condition.matcher({"context": {"user": {"user_id": "u"}}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        condition.op = "is not"  # type: ignore[misc]


def test_condition__equality__ignores_compiled_matcher() -> None:
    # Given / When / Then
    assert Condition(("a",), "is", ("x",)) == Condition(("a",), "is", ("x",))


def test_condition__invalid_regex__raises_invalid_flag() -> None:
    # Given / When / Then
    with pytest.raises(InvalidFlag):
        Condition(("a",), "regex match", ("[",))


def test_flag__replace_segments__recompiles_plan() -> None:
    # Given
    flag = Flag("f", {"on": Variant("on")}, (Segment(variant="on"),))

    # When
    changed = dataclasses.replace(flag, segments=(Segment(variant="missing"),))

    # Then
    assert flag.plan[0].fallback is not None
    assert changed.plan[0].fallback is None


def test_bucket__constructed__compiles_picker() -> None:
    # Given
    bucket = Bucket(
        ("context", "user", "device_id"),
        "abc12345",
        (Allocation((0, 50), (Distribution("control", (0, 21474837)),)),),
    )

    # When / Then
    assert bucket.picker({"context": {"user": {"device_id": "dev-3"}}}) == "control"


def test_models__slots__reject_unknown_attributes() -> None:
    # Given
    variant = Variant("on")

    # When / Then
    with pytest.raises((AttributeError, TypeError)):
        object.__setattr__(variant, "colour", "red")

from __future__ import annotations

from flagyard.engine import Condition, Flag, Segment, Variant


def test_build_plan__metadata__merged_flag_then_segment_then_variant() -> None:
    # Given
    flag = Flag(
        "f",
        {"off": Variant("off", metadata={"default": True, "who": "variant"})},
        (Segment(variant="off", metadata={"segmentName": "All", "who": "segment", "x": 1}),),
        metadata={"who": "flag", "x": 0, "deployed": True},
    )

    # When
    outcome = flag.plan[0].outcomes["off"]

    # Then
    assert outcome == (
        "off",
        None,
        None,
        {"who": "variant", "x": 1, "deployed": True, "segmentName": "All", "default": True},
    )


def test_build_plan__segment_shapes__groups_and_fallback() -> None:
    # Given
    condition = Condition(("context", "user", "user_id"), "is", ("u",))
    flag = Flag(
        "f",
        {"on": Variant("on")},
        (Segment(conditions=((condition,),), variant="on"), Segment(conditions=()), Segment(variant="zz")),
    )

    # When
    first, second, third = flag.plan

    # Then
    assert first.groups == ((condition.matcher,),) and first.fallback is not None
    assert second.groups is None and second.fallback is None
    assert third.fallback is None and third.picker is None

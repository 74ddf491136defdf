from __future__ import annotations

from typing import Any

import pytest

from flagyard.engine import (
    CycleError,
    EvaluationResult,
    FlagSet,
    evaluate,
    evaluate_flag,
    parse_flags,
    user_to_context,
)

FLAGS = parse_flags(
    [
        {
            "key": "parent",
            "variants": {"on": {"key": "on", "value": "on"}, "off": {"key": "off"}},
            "segments": [
                {
                    "conditions": [
                        [{"selector": ["context", "user", "user_id"], "op": "is", "values": ["u1"]}]
                    ],
                    "variant": "on",
                },
                {"variant": "off"},
            ],
        },
        {
            "key": "child",
            "dependencies": ["parent"],
            "metadata": {"deployed": True},
            "variants": {"on": {"key": "on", "payload": [1]}, "off": {"key": "off", "metadata": {"default": True}}},
            "segments": [
                {
                    "conditions": [
                        [{"selector": ["result", "parent", "key"], "op": "is not", "values": ["on"]}]
                    ],
                    "metadata": {"segmentName": "flag-dependencies"},
                    "variant": "off",
                },
                {"metadata": {"segmentName": "All Other Users"}, "variant": "on"},
            ],
        },
        {"key": "silent", "variants": {}, "segments": [{"variant": "missing"}]},
    ]
)


def _keys(results: dict[str, EvaluationResult]) -> dict[str, Any]:
    return {k: v.key for k, v in results.items()}


@pytest.mark.parametrize("flags", [FLAGS, FlagSet(FLAGS), {f.key: f for f in FLAGS}])
def test_evaluate__parent_on__child_sees_parent_result(flags: Any) -> None:
    # Given
    context = user_to_context({"user_id": "u1"})

    # When
    results = evaluate(context, flags)

    # Then
    assert _keys(results) == {"parent": "on", "child": "on"}
    assert results["child"] == EvaluationResult(
        "on", None, [1], {"deployed": True, "segmentName": "All Other Users"}
    )


def test_evaluate__parent_off__child_off_with_merged_metadata() -> None:
    # Given
    context = user_to_context({"user_id": "u2"})

    # When
    results = evaluate(context, FLAGS)

    # Then
    assert results["child"].metadata == {
        "deployed": True,
        "segmentName": "flag-dependencies",
        "default": True,
    }


def test_evaluate__requested_child__parent_evaluated_too() -> None:
    # Given / When
    results = evaluate({"user": {"user_id": "u1"}}, FLAGS, ["child", "missing"])

    # Then
    assert list(results) == ["parent", "child"]


def test_evaluate__no_segment_yields__flag_absent() -> None:
    # Given / When
    results = evaluate({}, FLAGS, ["silent"])

    # Then
    assert results == {}


def test_evaluate__results__metadata_not_shared_between_calls() -> None:
    # Given
    first = evaluate({}, FLAGS)

    # When
    first["child"].metadata["evaluationId"] = "x"
    second = evaluate({}, FLAGS)

    # Then
    assert "evaluationId" not in second["child"].metadata


def test_evaluate__cycle__raises_cycle_error() -> None:
    # Given
    flags = parse_flags(
        [
            {"key": "a", "variants": {}, "segments": [], "dependencies": ["b"]},
            {"key": "b", "variants": {}, "segments": [], "dependencies": ["a"]},
        ]
    )

    # When / Then
    with pytest.raises(CycleError):
        evaluate({}, flags)


def test_evaluate_flag__single_flag__uses_given_target() -> None:
    # Given
    target: dict[str, Any] = {"context": {}, "result": {"parent": EvaluationResult("on", None, None, {})}}

    # When
    result = evaluate_flag(FLAGS[1], target)

    # Then
    assert result is not None and result.key == "on"

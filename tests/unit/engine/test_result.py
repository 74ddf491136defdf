from __future__ import annotations

from flagyard.engine import EvaluationResult


def test_to_dict__full_result__wire_shape() -> None:
    # Given
    result = EvaluationResult("on", "on", {"a": 1}, {"segmentName": "s"})

    # When / Then
    assert result.to_dict() == {
        "key": "on",
        "value": "on",
        "payload": {"a": 1},
        "metadata": {"segmentName": "s"},
    }


def test_to_dict__none_fields__omitted() -> None:
    # Given / When / Then
    assert EvaluationResult("off", None, None, {}).to_dict() == {"key": "off"}

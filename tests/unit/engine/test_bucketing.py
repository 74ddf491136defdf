from __future__ import annotations

from typing import Any

import pytest

from flagyard.engine.bucketing import DISTRIBUTION_MAX, bucket_values, compile_bucket

SELECTOR = ["context", "user", "device_id"]
HALF = [((0, 50), [("control", (0, 21474837)), ("treatment", (21474836, DISTRIBUTION_MAX))])]


def _target(device_id: Any) -> dict[str, Any]:
    return {"context": {"user": {"device_id": device_id}}, "result": {}}


@pytest.mark.parametrize(
    ("salt", "value", "expected"),
    [
        ("abc12345", "dev-1", (94, 34873143)),
        ("abc12345", "dev-2", (76, 26053433)),
        ("abc12345", "dev-3", (25, 3436874)),
        ("nI33zio8", "device_id", (0, 40748602)),
        ("ubvfZywq", "device_id", (8, 24421617)),
        ("r1wFYK2v", "device_id", (60, 31873695)),
        ("pHOipLW7", "device_id", (80, 34241236)),
    ],
)
def test_bucket_values__reference_table__allocation_and_distribution(
    salt: str, value: str, expected: tuple[int, int]
) -> None:
    # Given / When / Then
    assert bucket_values(salt, value) == expected


@pytest.mark.parametrize(
    ("device_id", "expected"), [("dev-1", None), ("dev-2", None), ("dev-3", "control")]
)
def test_bucket__half_allocation__matches_reference_table(device_id: str, expected: str | None) -> None:
    # Given
    pick = compile_bucket(SELECTOR, "abc12345", HALF)

    # When / Then
    assert pick(_target(device_id)) == expected


@pytest.mark.parametrize("device_id", [None, ""])
def test_bucket__no_bucketing_value__defers_to_segment_variant(device_id: Any) -> None:
    # Given
    pick = compile_bucket(SELECTOR, "abc12345", [((0, 100), [("on", (0, DISTRIBUTION_MAX))])])

    # When / Then
    assert pick(_target(device_id)) is None


@pytest.mark.parametrize("device_id", [0, False, [], {}])
def test_bucket__falsy_non_text_value__is_bucketed_as_text(device_id: Any) -> None:
    # Given
    pick = compile_bucket(SELECTOR, "abc12345", [((0, 100), [("on", (0, DISTRIBUTION_MAX))])])

    # When / Then
    assert pick(_target(device_id)) == "on"


def test_bucket__allocation_end__is_exclusive() -> None:
    # Given: dev-1 hashes to allocation value 94
    below = compile_bucket(SELECTOR, "abc12345", [((0, 94), [("on", (0, DISTRIBUTION_MAX))])])
    above = compile_bucket(SELECTOR, "abc12345", [((0, 95), [("on", (0, DISTRIBUTION_MAX))])])

    # When / Then
    assert below(_target("dev-1")) is None
    assert above(_target("dev-1")) == "on"


def test_bucket__no_distribution_in_first_allocation__tries_next_allocation() -> None:
    # Given
    allocations = [((0, 100), [("a", (0, 1))]), ((0, 100), [("b", (0, DISTRIBUTION_MAX))])]
    pick = compile_bucket(SELECTOR, "abc12345", allocations)

    # When / Then
    assert pick(_target("dev-3")) == "b"


def test_bucket__overlapping_distributions__first_wins() -> None:
    # Given
    allocations = [((0, 100), [("a", (0, DISTRIBUTION_MAX)), ("b", (0, DISTRIBUTION_MAX))])]

    # When / Then
    assert compile_bucket(SELECTOR, "s", allocations)(_target("x")) == "a"

from __future__ import annotations

import pytest

from flagyard.engine import operators as ops


def test_all_ops__count__twenty_operators() -> None:
    # Given / When / Then
    assert len(ops.ALL_OPS) == 20


@pytest.mark.parametrize(
    ("op", "values", "expected"),
    [
        (ops.IS, ("(none)",), True),
        (ops.IS, ("a",), False),
        (ops.SET_CONTAINS_ANY, ("(none)",), True),
        (ops.IS_NOT, ("a",), True),
        (ops.SET_DOES_NOT_CONTAIN_ANY, ("(none)",), False),
        (ops.SET_IS_NOT, ("a",), False),
        (ops.REGEX_DOES_NOT_MATCH, ("a",), False),
        ("unknown", ("(none)",), False),
    ],
)
def test_null_outcome__op_and_values__follows_none_filter(
    op: str, values: tuple[str, ...], expected: bool
) -> None:
    # Given / When / Then
    assert ops.null_outcome(op, values) is expected

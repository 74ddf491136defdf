"""The cohort model: ids, names, and a lastModified that only moves forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flagyard.errors import Invalid
from flagyard.manage.model.cohorts import check_group_type, is_cohort_id, new_cohort

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_new_cohort__generated_id__is_a_cohort_id_and_differs_each_time() -> None:
    first = new_cohort(1, "a", "", "User", "me", NOW)
    second = new_cohort(1, "a", "", "User", "me", NOW)
    assert is_cohort_id(first.public_id) and first.public_id != second.public_id


@pytest.mark.parametrize("raw", ["", "has space", "x" * 33, "naïve", "a/b", "a\x00"])
def test_is_cohort_id__not_alphanumeric_ascii_up_to_32__false(raw: str) -> None:
    assert not is_cohort_id(raw)


def test_touch__same_millisecond_or_clock_behind__still_moves_forward() -> None:
    # Given
    cohort = new_cohort(1, "a", "", "User", "me", NOW)
    first = cohort.last_modified
    # When a change lands in the same millisecond, then one with a clock that went back
    cohort.touch("you", NOW)
    second = cohort.last_modified
    cohort.touch("you", NOW - timedelta(seconds=5))
    # Then
    assert first < second < cohort.last_modified
    assert cohort.last_modified_by == "you"


@pytest.mark.parametrize("group_type", ["", " org", "org ", "x" * 201])
def test_check_group_type__blank_padded_or_long__invalid(group_type: str) -> None:
    with pytest.raises(Invalid, match="groupType"):
        check_group_type(group_type)

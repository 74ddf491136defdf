"""The schedule's own rules: times, ramps, its state as steps finish, refusals said of the patch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flagyard.errors import Invalid
from flagyard.manage.model.schedules import (
    Plan,
    Schedule,
    ScheduleKind,
    Step,
    StepState,
    is_late,
    new_schedule,
    parse_moment,
    within,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_parse_moment__any_offset__utc_to_the_millisecond() -> None:
    assert parse_moment("2026-12-06T13:00:00.123456+01:00") == datetime(2026, 12, 6, 12, 0, 0, 123000, tzinfo=UTC)
    assert parse_moment("2026-12-06T12:00:00Z") == NOW


@pytest.mark.parametrize("text", ["2026-12-06T12:00:00", "2026-12-06", "tomorrow", "",
                                  "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_parse_moment__no_offset_or_not_a_time__refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_moment(text)


def test_new_schedule__ramp_times_must_increase_and_lie_ahead() -> None:
    ahead = [(NOW + timedelta(hours=n), 10 * n) for n in (1, 2, 3)]
    schedule = new_schedule(Plan.ramp(ahead), 7, 1, "alice", NOW)
    assert [(s.position, s.changes) for s in schedule.steps] == [
        (0, {"rollout_percentage": 10}), (1, {"rollout_percentage": 20}), (2, {"rollout_percentage": 30})]
    with pytest.raises(Invalid, match=r"ramp\[2\]\.at must be later than ramp\[1\]\.at"):
        new_schedule(Plan.ramp([*ahead[:2], (ahead[1][0], 50)]), 7, 1, "alice", NOW)
    with pytest.raises(Invalid, match=r"^at must be in the future"):
        new_schedule(Plan.change(NOW, {"enabled": True}), 7, 1, "alice", NOW)
    with pytest.raises(Invalid, match=r"ramp\[0\]\.rolloutPercentage"):
        new_schedule(Plan.ramp([(NOW + timedelta(hours=1), 101)]), 7, 1, "alice", NOW)
    with pytest.raises(Invalid, match="at least one step"):
        new_schedule(Plan.ramp([]), 7, 1, "alice", NOW)


@pytest.mark.parametrize(("states", "expected"), [
    ((StepState.APPLIED, StepState.PENDING), StepState.PENDING),
    ((StepState.APPLIED, StepState.CANCELLED), StepState.CANCELLED),
    ((StepState.FAILED, StepState.APPLIED), StepState.FAILED),
    ((StepState.APPLIED, StepState.APPLIED), StepState.APPLIED),
])
def test_schedule_state__pending_until_every_step_is_done(states: tuple[StepState, ...], expected: StepState) -> None:
    steps = [Step(at=NOW, changes={}, state=state) for state in states]
    assert Schedule(1, 1, ScheduleKind.RAMP, "alice", NOW, steps).state is expected


def test_within__a_field_or_a_sentence() -> None:
    assert within("patch", Invalid("rolloutPercentage must be between 0 and 100")).message == \
        "patch.rolloutPercentage must be between 0 and 100"
    assert within("ramp[1]", Invalid("Cannot edit archived flag; unarchive it first")).message == \
        "ramp[1]: Cannot edit archived flag; unarchive it first"


def test_is_late__more_than_five_seconds_after() -> None:
    assert not is_late(NOW, NOW + timedelta(seconds=5))
    assert is_late(NOW, NOW + timedelta(seconds=5, milliseconds=1))

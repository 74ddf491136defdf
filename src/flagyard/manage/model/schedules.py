"""Scheduled changes and ramps: a flag's patch, or its rollout percentage, applied at set times.

Pure: the rules a schedule meets when it is made, the state its steps leave it in, and its
document. Applying a step is the use case's business (manage/schedules.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flagyard.errors import Invalid
from flagyard.manage.model import rules
from flagyard.manage.model.access import Principal
from flagyard.manage.model.document import iso
from flagyard.manage.model.flags import camel

# A step applied later than this after its time (no server was running, say) is marked late.
LATE_AFTER = timedelta(seconds=5)
MAX_PENDING_PER_FLAG = 100
MAX_RAMP_STEPS = 100
MOMENT_FORMAT = "an ISO 8601 time with a timezone offset or Z, e.g. 2026-12-06T10:00:00Z"


class ScheduleKind(StrEnum):
    CHANGE = "change"  # one patch at one time
    RAMP = "ramp"  # rollout percentages at increasing times


class StepState(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"  # the flag refused the patch when it was due
    CANCELLED = "cancelled"


@dataclass
class Step:
    at: datetime
    changes: dict[str, Any]  # the PATCH body's fields by their Python names, as Flag.edit takes them
    position: int = 0
    state: StepState = StepState.PENDING
    applied_at: datetime | None = None
    version: int | None = None  # the flag's version the step wrote
    late: bool = False
    error: str | None = None
    id: int = 0
    schedule_id: int = 0


@dataclass(frozen=True)
class DueStep:
    """A pending step whose time has come, with the flag it changes."""

    step: Step
    flag_id: int


@dataclass
class Schedule:
    flag_id: int
    project_id: int
    kind: ScheduleKind
    created_by: str
    created_at: datetime
    steps: list[Step] = field(default_factory=list)
    name: str | None = None
    cancelled_at: datetime | None = None
    id: int = 0

    @property
    def state(self) -> StepState:
        """Pending while any step is; then cancelled, failed or applied, in that precedence."""
        states = {step.state for step in self.steps}
        for state in (StepState.PENDING, StepState.CANCELLED, StepState.FAILED):
            if state in states:
                return state
        return StepState.APPLIED


@dataclass(frozen=True)
class PlannedStep:
    at: datetime
    changes: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """What a person asks for, before the flag and the clock have had their say."""

    kind: ScheduleKind
    steps: tuple[PlannedStep, ...]
    name: str | None = None

    @classmethod
    def change(cls, at: datetime, changes: Mapping[str, Any], name: str | None = None) -> Plan:
        return cls(ScheduleKind.CHANGE, (PlannedStep(at, dict(changes)),), name)

    @classmethod
    def ramp(cls, points: Sequence[tuple[datetime, int]], name: str | None = None) -> Plan:
        return cls(ScheduleKind.RAMP,
                   tuple(PlannedStep(at, {"rollout_percentage": percentage}) for at, percentage in points),
                   name)

    def at_field(self, index: int) -> str:
        return "at" if self.kind is ScheduleKind.CHANGE else f"ramp[{index}].at"

    def patch_field(self, index: int) -> str:
        return "patch" if self.kind is ScheduleKind.CHANGE else f"ramp[{index}]"


def plan_document(plan: Plan) -> dict[str, Any]:
    """A plan as JSON, kept while a change request waits for approval (`plan_from_document`)."""
    return {"kind": plan.kind.value, "name": plan.name,
            "steps": [{"at": iso(step.at), "patch": patch_document(step.changes), "changes": step.changes}
                      for step in plan.steps]}


def plan_from_document(document: Mapping[str, Any]) -> Plan:
    steps = tuple(PlannedStep(datetime.fromisoformat(step["at"].replace("Z", "+00:00")), dict(step["changes"]))
                  for step in document["steps"])
    return Plan(ScheduleKind(document["kind"]), steps, document.get("name"))


def new_schedule(plan: Plan, flag_id: int, project_id: int, author: str, now: datetime) -> Schedule:
    """The schedule, if the plan's times and steps are acceptable now (`Invalid` naming the
    field otherwise). Whether the flag accepts each patch is checked by the caller."""
    if not plan.steps:
        raise Invalid("ramp must have at least one step", code="empty_ramp")
    if len(plan.steps) > MAX_RAMP_STEPS:
        raise Invalid(f"ramp has more than {MAX_RAMP_STEPS} steps", code="too_many_steps")
    previous: datetime | None = None
    for index, planned in enumerate(plan.steps):
        if planned.at <= now:
            raise Invalid(f"{plan.at_field(index)} must be in the future", code="time_in_past")
        if previous is not None and planned.at <= previous:
            raise Invalid(f"{plan.at_field(index)} must be later than {plan.at_field(index - 1)}",
                          code="times_not_increasing")
        previous = planned.at
        if not planned.changes:
            raise Invalid(f"{plan.patch_field(index)} names no field to change", code="empty_edit")
        if plan.kind is ScheduleKind.RAMP:
            rules.check_percentage(planned.changes["rollout_percentage"], f"ramp[{index}].rolloutPercentage")
    steps = [Step(at=planned.at, changes=planned.changes, position=index)
             for index, planned in enumerate(plan.steps)]
    return Schedule(flag_id=flag_id, project_id=project_id, kind=plan.kind, created_by=author,
                    created_at=now, steps=steps, name=plan.name)


def check_pending_count(pending: int) -> None:
    if pending >= MAX_PENDING_PER_FLAG:
        raise Invalid(f"schedules: a flag may have at most {MAX_PENDING_PER_FLAG} pending schedules; "
                      "cancel one first", code="too_many_schedules")


def scheduler(schedule_id: int) -> Principal:
    """The author of the versions a schedule writes, in the flag's history."""
    # A schedule on a protected deployment was approved when it was made (ADR 0089).
    return Principal(key_id=0, name=f"scheduler (schedule {schedule_id})", project_ids=None, read_only=False,
                     bypasses_approval=True)


def is_late(at: datetime, applied_at: datetime) -> bool:
    return applied_at - at > LATE_AFTER


_NAMES_A_FIELD = re.compile(r"[a-z][A-Za-z0-9]*[\s.\[:]")


def within(where: str, refusal: Invalid) -> Invalid:
    """A refusal of a step's patch, said of the field that holds the patch: "rolloutPercentage
    must be ..." becomes "patch.rolloutPercentage must be ..."."""
    joiner = "." if _NAMES_A_FIELD.match(refusal.message) else ": "
    return Invalid(f"{where}{joiner}{refusal.message}", code=refusal.code)


def parse_moment(text: str) -> datetime:
    """An ISO 8601 time that says its offset, in UTC to the millisecond; ValueError otherwise."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError("no offset")
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"must be {MOMENT_FORMAT}") from None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def patch_document(changes: Mapping[str, Any]) -> dict[str, Any]:
    """A step's patch as the PATCH body names its fields."""
    return {camel(name): value for name, value in changes.items()}


def step_document(step: Step) -> dict[str, Any]:
    return {
        "at": iso(step.at),
        "patch": patch_document(step.changes),
        "state": step.state.value,
        "appliedAt": iso(step.applied_at),
        "version": step.version,
        "late": step.late,
        "error": step.error,
    }


def schedule_document(schedule: Schedule) -> dict[str, Any]:
    return {
        "id": str(schedule.id),
        "flagId": str(schedule.flag_id),
        "name": schedule.name,
        "kind": schedule.kind.value,
        "state": schedule.state.value,
        "steps": [step_document(step) for step in schedule.steps],
        "createdBy": schedule.created_by,
        "createdAt": iso(schedule.created_at),
        "cancelledAt": iso(schedule.cancelled_at),
    }

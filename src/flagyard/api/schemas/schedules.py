"""Bodies of /api/1/{flags,experiments}/{id}/schedules, and the schedule document's shape (for
the OpenAPI document only, as in responses.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from flagyard.api.schemas.common import Body, Percentage, ShortText
from flagyard.api.schemas.flags import ExperimentPatchIn, FlagPatchIn, _PatchBase
from flagyard.errors import Invalid
from flagyard.manage.model.schedules import MAX_RAMP_STEPS, MOMENT_FORMAT, Plan, parse_moment


def _moment(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"must be {MOMENT_FORMAT}")
    return parse_moment(value)


# A time with its offset; the schema documents it as a date-time string.
Moment = Annotated[datetime, BeforeValidator(_moment)]


class RampStepIn(Body):
    at: Moment
    rollout_percentage: Percentage


class _ScheduleIn(Body):
    """Either `at` and `patch` (a change at a time) or `ramp` (rollout percentages at times)."""

    name: ShortText | None = None
    at: Moment | None = None
    ramp: Annotated[list[RampStepIn], Field(max_length=MAX_RAMP_STEPS)] | None = None

    def _patch(self) -> _PatchBase | None:
        raise NotImplementedError

    def plan(self) -> Plan:
        name = self.name or None
        patch = self._patch()
        if self.ramp is not None:
            if self.at is not None or patch is not None:
                raise Invalid("ramp cannot be sent with at or patch: a schedule is a change or a ramp",
                              code="invalid_field")
            return Plan.ramp([(step.at, step.rollout_percentage) for step in self.ramp], name)
        if self.at is None:
            raise Invalid("at is required (or send ramp)", code="missing_field")
        if patch is None:
            raise Invalid("patch is required: the body PATCH takes", code="missing_field")
        return Plan.change(self.at, patch.edits(), name)


class FlagScheduleIn(_ScheduleIn):
    patch: FlagPatchIn | None = None

    def _patch(self) -> _PatchBase | None:
        return self.patch


class ExperimentScheduleIn(_ScheduleIn):
    patch: ExperimentPatchIn | None = None

    def _patch(self) -> _PatchBase | None:
        return self.patch


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


StateOut = Literal["pending", "applied", "failed", "cancelled"]


class ScheduleStepOut(_Out):
    at: str
    patch: dict[str, Any] = Field(description="What the step changes, as PATCH names it")
    state: StateOut
    appliedAt: str | None
    version: int | None = Field(description="The version the step wrote")
    late: bool = Field(description="Applied more than 5 s after its time (no server was running)")
    error: str | None = Field(description="Why the flag refused the patch when it was due")


class ScheduleOut(_Out):
    id: str
    flagId: str
    name: str | None
    kind: Literal["change", "ramp"]
    state: StateOut = Field(description="pending while any step is; then cancelled, failed or applied")
    steps: list[ScheduleStepOut]
    createdBy: str
    createdAt: str
    cancelledAt: str | None

"""Bodies for holdout and mutex groups (/api/1/holdouts, /api/1/mutexes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from flagyard.api.schemas.common import Body, Bool, Id, Key, LongText, ShortText, _integral
from flagyard.api.schemas.flags import InclusionId

HoldoutPercentage = Annotated[int, BeforeValidator(_integral), Field(ge=1, le=99)]
SlotPercentage = Annotated[int, BeforeValidator(_integral), Field(ge=1, le=100)]
Name = Annotated[ShortText, Field(min_length=1)]
Members = Annotated[list[Id], Field(max_length=1000)]
Individuals = Annotated[list[InclusionId], Field(max_length=10_000)]
NonEmpty = Annotated[ShortText, Field(min_length=1)]


class _GroupCreateBase(Body):
    project_id: Id
    name: Name
    key: Key | None = None
    description: LongText | None = None
    evaluation_mode: Literal["remote", "local"] | None = None
    bucketing_key: NonEmpty | None = None
    bucketing_salt: NonEmpty | None = None

    def fields(self) -> dict[str, Any]:
        return self.changes()


class HoldoutCreateIn(_GroupCreateBase):
    holdout_percentage: HoldoutPercentage
    experiments: Members | None = None
    individual_inclusion: Individuals | None = None
    individual_exclusion: Individuals | None = None


class HoldoutPatchIn(Body):
    name: Name = None  # type: ignore[assignment]
    description: LongText = None  # type: ignore[assignment]
    experiments: Members = None  # type: ignore[assignment]
    individual_inclusion: Individuals = None  # type: ignore[assignment]
    individual_exclusion: Individuals = None  # type: ignore[assignment]
    archive: Bool = None  # type: ignore[assignment]


class SlotIn(Body):
    percentage: SlotPercentage
    experiments: Members | None = None
    holdouts: Members | None = None
    individuals: Individuals | None = None


class MutexCreateIn(_GroupCreateBase):
    slots: Annotated[list[SlotIn], Field(min_length=1, max_length=20)]

    def fields(self) -> dict[str, Any]:
        fields = self.changes()
        fields["slots"] = [slot.model_dump() for slot in self.slots]
        return fields


class MutexPatchIn(Body):
    name: Name = None  # type: ignore[assignment]
    description: LongText = None  # type: ignore[assignment]
    archive: Bool = None  # type: ignore[assignment]


class SlotPatchIn(Body):
    experiments: Members = None  # type: ignore[assignment]
    holdouts: Members = None  # type: ignore[assignment]
    individuals: Individuals = None  # type: ignore[assignment]

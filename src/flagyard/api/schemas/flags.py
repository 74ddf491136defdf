"""Bodies for flags and experiments, their variants, inclusions and deployments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from flagyard.api.schemas.common import (
    Body,
    Bool,
    Id,
    JsonValue,
    Key,
    LongText,
    Percentage,
    ShortText,
    Text,
    Weight,
    unicode_text,
)
from flagyard.manage.model.rules import iso_date
from flagyard.manage.model.targeting import ConditionOp

ConditionValue = Annotated[str, Field(strict=True, max_length=1000), AfterValidator(unicode_text)]
# An included user, device or cohort id.
InclusionId = Annotated[str, Field(strict=True, min_length=1, max_length=1000), AfterValidator(unicode_text)]


class ConditionIn(Body):
    type: Literal["property"]
    prop: Annotated[ShortText, Field(min_length=1)]
    op: ConditionOp
    values: Annotated[list[ConditionValue], Field(max_length=10000)]


class TargetSegmentIn(Body):
    name: ShortText = ""
    conditions: Annotated[list[ConditionIn], Field(max_length=100)]
    percentage: Percentage
    rollout_weights: dict[Key, Weight]
    bucketing_key: Annotated[ShortText, Field(min_length=1)] | None = None


IsoDate = Annotated[Text | None, AfterValidator(iso_date)]


class ExposureFilterIn(BaseModel):
    # exposureEvent keeps Amplitude's snake_case names on the wire.
    model_config = ConfigDict(extra="forbid")
    group_type: ShortText | None = None
    subprop_key: ShortText | None
    subprop_op: ShortText
    subprop_type: ShortText
    subprop_value: list[ShortText]


class ExposureEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_type: Annotated[ShortText, Field(min_length=1)]
    filters: Annotated[list[ExposureFilterIn], Field(max_length=100)]


class ParentDependenciesIn(Body):
    flags: Annotated[dict[Annotated[str, Field(pattern=r"^[0-9]{1,10}$")], list[Key]], Field(min_length=1)]
    operator: Literal["all"] = "all"


class VariantIn(Body):
    key: Key
    name: ShortText | None = None
    description: LongText | None = None
    payload: JsonValue = None
    rollout_weight: Weight | None = None


class VariantPatchIn(Body):
    key: Key = None  # type: ignore[assignment]
    name: ShortText = None  # type: ignore[assignment]
    description: LongText = None  # type: ignore[assignment]
    payload: JsonValue = None
    rollout_weight: Weight = None  # type: ignore[assignment]


class _CreateBase(Body):
    project_id: Id
    key: Key
    name: ShortText | None = None
    description: LongText | None = None
    variants: Annotated[list[VariantIn], Field(max_length=100)] | None = None
    bucketing_key: Annotated[ShortText, Field(min_length=1)] | None = None
    bucketing_salt: Annotated[ShortText, Field(min_length=1)] | None = None
    bucketing_unit: Annotated[ShortText, Field(min_length=1)] | None = None
    rollout_weights: dict[Key, Weight] | None = None
    rollout_percentage: Percentage | None = None
    target_segments: Annotated[list[TargetSegmentIn], Field(max_length=100)] | None = None
    deployments: Annotated[list[Id], Field(max_length=100)] | None = None
    evaluation_mode: Literal["remote", "local"] | None = None
    tags: Annotated[list[Key], Field(max_length=100)] | None = None
    parent_dependencies: ParentDependenciesIn | None = None
    sticky_bucketing: Bool | None = None
    delivery_method: Literal["feature", "web"] | None = None

    def fields(self) -> dict[str, Any]:
        fields = self.changes()
        if self.target_segments is not None:
            fields["target_segments"] = segments_to_store(self.target_segments)
        if self.variants is not None:
            fields["variants"] = [v.model_dump() for v in self.variants]
        if self.parent_dependencies is not None:
            fields["parent_dependencies"] = self.parent_dependencies.model_dump()
        return fields


class FlagCreateIn(_CreateBase):
    pass


class ExperimentCreateIn(_CreateBase):
    experiment_type: Literal["a-b-test", "multi-arm-bandit", "no-harm", "hypothesis-testing"] | None = None


class _PatchBase(Body):
    name: ShortText = None  # type: ignore[assignment]
    description: LongText = None  # type: ignore[assignment]
    bucketing_key: Annotated[ShortText, Field(min_length=1)] = None  # type: ignore[assignment]
    bucketing_salt: Annotated[ShortText, Field(min_length=1)] = None  # type: ignore[assignment]
    bucketing_unit: Annotated[ShortText, Field(min_length=1)] = None  # type: ignore[assignment]
    evaluation_mode: Literal["remote", "local"] = None  # type: ignore[assignment]
    rollout_percentage: Percentage = None  # type: ignore[assignment]
    target_segments: Annotated[list[TargetSegmentIn], Field(max_length=100)] = None  # type: ignore[assignment]
    enabled: Bool = None  # type: ignore[assignment]
    archive: Bool = None  # type: ignore[assignment]
    tags: Annotated[list[Key], Field(max_length=100)] = None  # type: ignore[assignment]
    parent_dependencies: ParentDependenciesIn | None = None
    sticky_bucketing: Bool = None  # type: ignore[assignment]

    def edits(self) -> dict[str, Any]:
        changes = self.changes()
        if "target_segments" in changes:
            changes["target_segments"] = segments_to_store(self.target_segments)
        if "parent_dependencies" in changes and self.parent_dependencies is not None:
            changes["parent_dependencies"] = self.parent_dependencies.model_dump()
        if "exposure_event" in changes and changes["exposure_event"] is not None:
            changes["exposure_event"] = changes["exposure_event"].model_dump()
        return changes


class FlagPatchIn(_PatchBase):
    pass


class ExperimentPatchIn(_PatchBase):
    experiment_type: Literal["a-b-test", "multi-arm-bandit", "no-harm", "hypothesis-testing"] = None  # type: ignore[assignment]
    start_date: IsoDate = None
    end_date: IsoDate = None
    exposure_event: ExposureEventIn | None = None
    decision: Literal["rollout", "rollback", "continue-running"] | None = None
    decision_reason: LongText | None = None
    rolled_out_variant: Key | None = None


class InclusionsIn(Body):
    inclusions: list[InclusionId]


class BulkRemoveIn(Body):
    users: list[InclusionId]


class DeploymentLinksIn(Body):
    deployments: Annotated[list[Id], Field(min_length=1, max_length=100)]


class RolloutWeightsIn(Body):
    rollout_weights: dict[Key, Weight]


def segments_to_store(segments: list[TargetSegmentIn]) -> list[dict[str, Any]]:
    stored = []
    for index, segment in enumerate(segments):
        data = segment.model_dump(by_alias=True, exclude_none=True)
        data["name"] = segment.name or f"Segment {index + 1}"
        stored.append(
            {
                "name": data["name"],
                "conditions": data["conditions"],
                "percentage": data["percentage"],
                **({"bucketingKey": data["bucketingKey"]} if "bucketingKey" in data else {}),
                "rolloutWeights": data["rolloutWeights"],
            }
        )
    return stored

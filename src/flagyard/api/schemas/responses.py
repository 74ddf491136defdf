"""Response shapes, for the OpenAPI document only: routes return the model's documents as
they are, and the schemathesis run in the test suite checks them against these models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Out):
    code: str = Field(description="Stable snake_case code, e.g. invalid_field")
    message: str = Field(description="A sentence naming the field at fault")


class ErrorOut(_Out):
    error: ErrorDetail


class VariantOut(_Out):
    key: str
    name: str
    description: str
    payload: Any = None
    rolloutWeight: int


class ConditionOut(_Out):
    type: Literal["property"]
    prop: str
    op: str
    values: list[str]


class TargetSegmentOut(_Out):
    name: str
    conditions: list[ConditionOut]
    percentage: int
    bucketingKey: str = Field(description="The segment's own, else the flag's bucketing key")
    rolloutWeights: dict[str, int]


class ParentDependenciesOut(_Out):
    flags: dict[str, list[str]]
    operator: str


class ExposureFilterOut(_Out):
    group_type: str | None = None
    subprop_key: str | None
    subprop_op: str
    subprop_type: str
    subprop_value: list[str]


class ExposureEventOut(_Out):
    event_type: str
    filters: list[ExposureFilterOut]


class FlagOut(_Out):
    """A flag or an experiment (experiment-only fields are null on flags)."""

    id: str
    projectId: str
    deployments: list[str]
    key: str
    name: str
    description: str
    enabled: bool
    evaluationMode: Literal["remote", "local"]
    bucketingKey: str
    bucketingSalt: str
    bucketingUnit: str
    variants: list[VariantOut]
    rolledOutVariant: str | None
    rolloutPercentage: int
    rolloutWeights: dict[str, int]
    targetSegments: list[TargetSegmentOut]
    parentDependencies: ParentDependenciesOut | None
    stickyBucketing: bool
    state: Literal["planning", "running", "stopped", "decision-made", "archived"] | None
    startDate: str | None
    endDate: str | None
    experimentType: str | None
    deleted: bool
    tags: list[str]
    createdBy: str
    lastModifiedBy: str
    createdAt: str
    lastModifiedAt: str
    decision: Literal["rollout", "rollback", "continue-running"] | None
    decisionReason: str | None
    exposureEvent: ExposureEventOut | None
    deliveryMethod: Literal["feature", "web"]
    testInstrumentation: bool | None = Field(description="false on experiments, null on flags")
    version: int


class FlagListOut(_Out):
    flags: list[FlagOut]
    nextCursor: int | None = Field(default=None, description="Absent on the last page")


class ExperimentListOut(_Out):
    experiments: list[FlagOut]
    nextCursor: int | None = Field(default=None, description="Absent on the last page")


class CreatedOut(_Out):
    id: str
    url: str


class DeploymentOut(_Out):
    id: str
    projectId: str
    label: str
    key: str
    type: Literal["server", "client"]
    deleted: bool
    requireApproval: bool = Field(description="changes to its flags become change requests")


class DeploymentListOut(_Out):
    deployments: list[DeploymentOut]
    nextCursor: int | None = Field(default=None, description="Absent on the last page")


class DeploymentCreatedOut(_Out):
    id: str


class HoldoutOut(_Out):
    id: str
    projectId: str
    name: str
    key: str
    description: str
    holdoutPercentage: int
    evaluationMode: Literal["remote", "local"]
    bucketingKey: str
    bucketingSalt: str
    variantName: Literal["on"]
    experiments: list[str]
    individualInclusion: list[str]
    individualExclusion: list[str]
    parentDependencies: ParentDependenciesOut | None
    deleted: bool
    createdBy: str
    lastModifiedBy: str
    createdAt: str
    lastModifiedAt: str
    version: int


class SlotOut(_Out):
    name: str
    index: int
    variantKey: str
    percentage: int
    experiments: list[str]
    holdouts: list[str]
    individuals: list[str]
    cohorts: list[str]


class MutexOut(_Out):
    id: str
    projectId: str
    name: str
    key: str
    description: str
    evaluationMode: Literal["remote", "local"]
    bucketingKey: str
    bucketingSalt: str
    slots: list[SlotOut]
    deleted: bool
    createdBy: str
    lastModifiedBy: str
    createdAt: str
    lastModifiedAt: str
    version: int


class HoldoutListOut(_Out):
    holdouts: list[HoldoutOut]
    nextCursor: int | None = Field(default=None, description="Absent on the last page")


class MutexListOut(_Out):
    mutexes: list[MutexOut]
    nextCursor: int | None = Field(default=None, description="Absent on the last page")


class VersionOut(_Out):
    version: int
    createdAt: str
    createdBy: str
    # A holdout's or mutex's versions hold the group's own document.
    flagConfig: FlagOut | HoldoutOut | MutexOut


class VersionRecordOut(VersionOut):
    id: str = Field(description="The version record's id")
    flagId: str = Field(description="The flag, experiment, holdout or mutex it records")


class VersionListOut(_Out):
    versions: list[VersionRecordOut]
    nextCursor: int | None = Field(default=None, description="Absent on the last page")


OK_TEXT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Done: the literal text OK",
        "content": {"text/plain": {"schema": {"type": "string", "enum": ["OK"]}}},
    }
}

_ERROR_STATUSES = {
    400: "Input is missing or invalid; the message names the field",
    401: "Missing, unknown or revoked key",
    403: "The key may not see this project, or is read-only and this is a write",
    404: "No such flag, experiment, variant, deployment, version, holdout, mutex or slot",
    409: "A conflict: the key is already used in the project, a change needs approval that cannot be "
         "requested this way, or a change request is stale or closed",
    413: "The body is larger than the server accepts",
    429: "Over the per-key rate limit; see Retry-After",
    503: "The database is unreachable; nothing was changed; retry after Retry-After",
}

class PendingApprovalOut(_Out):
    changeRequestId: str
    message: str


# A write to a flag on a deployment that requires approval (docs/approvals.md).
HELD_FOR_APPROVAL: dict[int | str, dict[str, Any]] = {
    202: {"model": PendingApprovalOut,
          "description": "Held for approval: a deployment serving the flag requires it, so a change request "
                         "was opened and nothing else changed"},
}
OK_OR_HELD_TEXT_RESPONSE = {**OK_TEXT_RESPONSE, **HELD_FOR_APPROVAL}


def documented(model: Any, *, held: bool = False) -> dict[str, Any]:
    """Route options that document a 200 body without re-validating it at run time; `held`: a
    write that a deployment's approval rule may turn into a change request (202)."""
    responses: dict[int | str, dict[str, Any]] = {200: {"model": model, "description": "OK"}}
    if held:
        responses.update(HELD_FOR_APPROVAL)
    return {"response_model": None, "responses": responses}


MANAGEMENT_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in _ERROR_STATUSES.items()
}


class DailyEvaluationsOut(_Out):
    date: str
    evaluations: int


class DeploymentUsageOut(_Out):
    deploymentId: str
    label: str
    lastEvaluatedAt: str | None
    evaluations: int
    daily: list[DailyEvaluationsOut]


class UsageOut(_Out):
    flagId: str
    key: str
    days: int
    since: str
    lastEvaluatedAt: str | None
    evaluations: int
    notEvaluatedForDays: int
    servedToEveryone: str | None
    unchangedForDays: int
    deployments: list[DeploymentUsageOut]

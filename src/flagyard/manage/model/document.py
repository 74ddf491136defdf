"""The management document: a flag or experiment as the Management API shows it.

One shape serves three readers: GET responses, the `flagConfig` of every version (so a
version reads back exactly what GET showed at that moment), and the evaluation compiler.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from flagyard.manage.model.flags import Flag, Kind, Variant
from flagyard.manage.model.groups import group_document


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds and Z, the format of Amplitude's timestamps."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def variant_document(variant: Variant) -> dict[str, Any]:
    return {
        "key": variant.key,
        "name": variant.name,
        "description": variant.description,
        "payload": copy.deepcopy(variant.payload),
        "rolloutWeight": variant.rollout_weight,
    }


def flag_document(flag: Flag) -> dict[str, Any]:
    if flag.kind.is_group:  # versions and the compiler read a group in its own shape
        return group_document(flag, iso)
    experiment = flag.kind is Kind.EXPERIMENT
    return {
        "id": str(flag.id),
        "projectId": str(flag.project_id),
        "deployments": [str(d) for d in flag.deployments],
        "key": flag.key,
        "name": flag.name,
        "description": flag.description,
        "enabled": flag.enabled,
        "evaluationMode": flag.evaluation_mode,
        "bucketingKey": flag.bucketing_key,
        "bucketingSalt": flag.bucketing_salt,
        "bucketingUnit": flag.bucketing_unit,
        "variants": [variant_document(v) for v in flag.variants],
        "rolledOutVariant": flag.rolled_out_variant,
        "rolloutPercentage": flag.rollout_percentage,
        "rolloutWeights": flag.rollout_weights,
        "targetSegments": [segment_document(s, flag.bucketing_key) for s in flag.target_segments],
        "parentDependencies": copy.deepcopy(flag.parent_dependencies),
        "stickyBucketing": flag.sticky_bucketing,
        "state": flag.state,
        "startDate": flag.start_date,
        "endDate": flag.end_date,
        "experimentType": flag.experiment_type if experiment else None,
        "deleted": flag.deleted,
        "tags": list(flag.tags),
        "createdBy": flag.created_by,
        "lastModifiedBy": flag.last_modified_by,
        "createdAt": iso(flag.created_at),
        "lastModifiedAt": iso(flag.last_modified_at),
        "decision": flag.decision,
        "decisionReason": flag.decision_reason,
        "exposureEvent": copy.deepcopy(flag.exposure_event),
        "deliveryMethod": flag.delivery_method,
        # Amplitude shows it on every experiment; flagyard has no test instrumentation mode.
        "testInstrumentation": False if experiment else None,
        "version": flag.version,
    }


def segment_document(segment: dict[str, Any], flag_bucketing_key: str) -> dict[str, Any]:
    """A target segment as Amplitude shows it: with the bucketing key it uses, which is the
    flag's unless the segment names its own."""
    return {
        "name": segment["name"],
        "conditions": copy.deepcopy(segment["conditions"]),
        "percentage": segment["percentage"],
        "bucketingKey": segment.get("bucketingKey") or flag_bucketing_key,
        "rolloutWeights": dict(segment["rolloutWeights"]),
    }

"""The management document: a flag or experiment as the Management API shows it.

One shape serves three readers: GET responses, the `flagConfig` of every version (so a
version reads back exactly what GET showed at that moment), and the evaluation compiler.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from flagyard.manage.model.flags import FLAG_FIELDS, Flag, Kind, Variant
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
    document: dict[str, Any] = {
        "id": str(flag.id),
        "projectId": str(flag.project_id),
        "deployments": [str(d) for d in flag.deployments],
        "key": flag.key,
        "enabled": flag.enabled,
    }
    for setting in FLAG_FIELDS:
        value = getattr(flag, setting.attribute) if experiment or not setting.experiment_only else None
        # Only lists and objects (tags, the exposure event) are copied: the rest are immutable.
        document[setting.document_name] = copy.deepcopy(value) if isinstance(value, list | dict) else value
    document.update({
        "variants": [variant_document(v) for v in flag.variants],
        "rolloutWeights": flag.rollout_weights,
        "targetSegments": [segment_document(s, flag.bucketing_key) for s in flag.target_segments],
        "parentDependencies": copy.deepcopy(flag.parent_dependencies),
        "state": flag.state,
        "deleted": flag.deleted,
        "createdBy": flag.created_by,
        "lastModifiedBy": flag.last_modified_by,
        "createdAt": iso(flag.created_at),
        "lastModifiedAt": iso(flag.last_modified_at),
        # Amplitude shows it on every experiment; flagyard has no test instrumentation mode.
        "testInstrumentation": False if experiment else None,
        "version": flag.version,
    })
    return document


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

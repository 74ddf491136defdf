"""The management document: a flag or experiment as the Management API shows it.

One shape serves three readers: GET responses, the `flagConfig` of every version (so a
version reads back exactly what GET showed at that moment), and the evaluation compiler.
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from flagyard.manage.model.flags import FLAG_FIELDS, Flag, Kind, Variant
from flagyard.manage.model.groups import group_document

# The settings table read once: a document is built for every write and every compile input.
_SETTING_NAMES = tuple(setting.document_name for setting in FLAG_FIELDS)
_setting_values = attrgetter(*(setting.attribute for setting in FLAG_FIELDS))
_CONTAINERS = (list, dict)
_FLAG_NULLS = {setting.document_name: None for setting in FLAG_FIELDS if setting.experiment_only}


# Fields every version changes: they say when and by whom, not what changed.
BOOKKEEPING = frozenset({"version", "lastModifiedAt", "lastModifiedBy"})


def _copied(value: Any) -> Any:
    """A copy of JSON-shaped data: lists and objects anew, the immutable rest as is (several
    times cheaper than copy.deepcopy, whose bookkeeping dominated a document's cost)."""
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    return value


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
        "payload": _copied(variant.payload),
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
    values = _setting_values(flag)
    document.update(zip(_SETTING_NAMES, values, strict=True))
    for name, value in zip(_SETTING_NAMES, values, strict=True):
        if type(value) in _CONTAINERS:  # tags, the exposure event: the rest are immutable
            document[name] = _copied(value)
    if not experiment:
        document.update(_FLAG_NULLS)
    document.update({
        "variants": [variant_document(v) for v in flag.variants],
        "rolloutWeights": flag.rollout_weights,
        "targetSegments": [segment_document(s, flag.bucketing_key) for s in flag.target_segments],
        "parentDependencies": _copied(flag.parent_dependencies),
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
        "conditions": _copied(segment["conditions"]),
        "percentage": segment["percentage"],
        "bucketingKey": segment.get("bucketingKey") or flag_bucketing_key,
        "rolloutWeights": dict(segment["rolloutWeights"]),
    }

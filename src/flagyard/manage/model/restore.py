"""Restoring a flag or experiment to the configuration one of its versions recorded."""

from __future__ import annotations

import copy
from typing import Any

from flagyard.errors import Invalid
from flagyard.manage.model.flags import FLAG_FIELDS, Flag, Variant, check_segments

# Document fields copied back as they are (document name → attribute).
_PLAIN = {
    **{setting.document_name: setting.attribute for setting in FLAG_FIELDS},
    "targetSegments": "target_segments",
    "parentDependencies": "parent_dependencies",
}


def restore(flag: Flag, document: dict[str, Any]) -> None:
    """Make `flag` match `document` (a version's flagConfig) in everything the document holds.

    Identity and history stay: id, key, project, creation, version counter, archived state.
    A variant the document keeps under the same key keeps its storage id, hence its user and
    cohort inclusions (versions do not record inclusions); a variant the document lacks goes,
    and its inclusions with it.
    """
    flag.ensure_editable()
    current = {variant.key: variant for variant in flag.variants}
    variants = []
    for data in document.get("variants", []):
        variant = Variant(
            key=data["key"],
            name=data.get("name") or "",
            description=data.get("description") or "",
            payload=copy.deepcopy(data.get("payload")),
            rollout_weight=int(data.get("rolloutWeight", 1)),
            id=current[data["key"]].id if data["key"] in current else 0,
        )
        variants.append(variant)
    keys = [variant.key for variant in variants]
    check_segments(document.get("targetSegments") or [], keys)
    flag.variants = variants
    for name, attribute in _PLAIN.items():
        if name in document:
            setattr(flag, attribute, copy.deepcopy(document[name]))
    flag.deployments = [int(d) for d in document.get("deployments", [])]
    flag.enabled = bool(document.get("enabled", False))
    if flag.enabled:
        flag.ensure_can_enable()
    flag.started = flag.started or flag.enabled
    if flag.rolled_out_variant is not None and flag.rolled_out_variant not in keys:
        raise Invalid("the version's rolledOutVariant names no variant", code="unknown_variant")


def adopt(flag: Flag, document: dict[str, Any]) -> None:
    """`restore`, archived state included: a change request may archive or unarchive."""
    archived = bool(document.get("deleted"))
    flag.deleted = False
    restore(flag, document)
    flag.deleted = archived

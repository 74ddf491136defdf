"""The evaluation compiler's part for holdout and mutex groups.

A group becomes the flag Amplitude serves for it: a `holdout-group` flag with variants
`holdout` and `on`, or a `mutual-exclusion-group` flag with `slot-1` … `slot-n` and
`unallocated`; each variant's payload lists the ids of the flags it lets through. Members
are gated by their own `flag-dependencies` segment (compiled from their parentDependencies
like any other dependency), so nothing here touches them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flagyard.serve.compile.segments import (
    ALL_OTHER_USERS,
    OFF,
    Uncompilable,
    bucket_selector,
    bucketed_segment,
    dependency_segment,
    percentage,
    show,
    string_list,
    user_inclusion_segment,
)

HOLDOUT, ON, UNALLOCATED = "holdout", "on", "unallocated"
FLAG_TYPES = {"holdout": "holdout-group", "mutex": "mutual-exclusion-group"}


def compile_group(
    doc: Mapping[str, Any],
    kind: str,
    key: str,
    parents: list[tuple[str, list[str]]],
    gate_closed: bool,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """One group document → one EvaluationFlag; raises `Uncompilable` on a malformed one."""
    salt = doc.get("bucketingSalt")
    if not isinstance(salt, str):
        raise Uncompilable("bucketingSalt must be a string")
    bucketing_key = doc.get("bucketingKey")
    if not isinstance(bucketing_key, str) or not bucketing_key or bucketing_key == "amplitude_id":
        # As for flags (ADR 0100): no identity graph here, so Amplitude IDs bucket by device.
        bucketing_key = "device_id"
    selector = bucket_selector(bucketing_key, "User")
    segments: list[dict[str, Any]] = []
    if parents or gate_closed:
        segments.append(dependency_segment(parents, gate_closed))
    if kind == "holdout":
        variants, weighted, forced = _holdout(doc)
    elif kind == "mutex":
        variants, weighted, forced = _mutex(doc)
    else:
        raise Uncompilable(f"kind {show(kind)} is not a group")
    segments += [user_inclusion_segment(variant, ids) for variant, ids in forced if ids]
    segments.append(bucketed_segment(name=ALL_OTHER_USERS, conditions=None, selector=selector,
                                     salt=salt, percent=100, weighted=weighted))
    variants[OFF] = {"key": OFF, "metadata": {"default": True}}
    flag: dict[str, Any] = {"key": key, "variants": variants, "segments": segments}
    if parents:
        flag["dependencies"] = [parent_key for parent_key, _ in parents]
    flag["metadata"] = metadata
    return flag


def _variant(key: str, flag_ids: Sequence[str]) -> dict[str, Any]:
    return {"key": key, "value": key, "payload": {"flagIds": list(flag_ids)}}


def _ids(doc: Mapping[str, Any], name: str) -> list[str]:
    raw = doc.get(name)
    return [] if raw is None else string_list(raw, name)


Compiled = tuple[dict[str, Any], list[tuple[str, int]], list[tuple[str, list[str]]]]


def _holdout(doc: Mapping[str, Any]) -> Compiled:
    held = percentage(doc.get("holdoutPercentage"), "holdoutPercentage")
    variants = {HOLDOUT: _variant(HOLDOUT, []), ON: _variant(ON, _ids(doc, "experiments"))}
    # Inclusions are always held out, exclusions never; both come before bucketing.
    forced = [(HOLDOUT, _ids(doc, "individualInclusion")), (ON, _ids(doc, "individualExclusion"))]
    return variants, [(HOLDOUT, held), (ON, 100 - held)], forced


def _mutex(doc: Mapping[str, Any]) -> Compiled:
    slots = doc.get("slots")
    if not isinstance(slots, list) or not slots:
        raise Uncompilable("slots must be a non-empty list")
    variants: dict[str, Any] = {}
    weighted: list[tuple[str, int]] = []
    forced: list[tuple[str, list[str]]] = []
    for index, slot in enumerate(slots):
        where = f"slots[{index}]"
        if not isinstance(slot, Mapping):
            raise Uncompilable(f"{where} must be an object")
        variant = f"slot-{index + 1}"
        members = string_list(slot.get("experiments") or [], f"{where}.experiments")
        members += string_list(slot.get("holdouts") or [], f"{where}.holdouts")
        variants[variant] = _variant(variant, members)
        weighted.append((variant, percentage(slot.get("percentage"), f"{where}.percentage")))
        forced.append((variant, string_list(slot.get("individuals") or [], f"{where}.individuals")))
    if sum(weight for _, weight in weighted) > 100:
        raise Uncompilable("slots percentages add up to more than 100")
    variants[UNALLOCATED] = _variant(UNALLOCATED, [])
    weighted.append((UNALLOCATED, 100 - sum(weight for _, weight in weighted)))
    return variants, weighted, forced

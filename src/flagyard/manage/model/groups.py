"""Holdout and mutual exclusion groups: their settings, rules and defaults.

A group is a row of the flag table with kind `holdout` or `mutex`: it shares the id sequence,
the key namespace, versions and access checks with flags. Its own settings live in
`Flag.group_config`. Membership is not stored on the group: an experiment is a member because
its parentDependencies name the group with the variant it needs (`on` for a holdout,
`slot-<n>` for a mutex slot), exactly as the SDK config expresses it. The group reads its
members back from those (`Flag.members`).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flagyard.errors import Invalid, NotFound
from flagyard.manage.model import rules
from flagyard.manage.model.flags import Flag, Kind, Variant

HOLDOUT = "holdout"  # the variant of users held out
HOLDOUT_ON = "on"  # the variant of users who may see the experiments; members allow it
UNALLOCATED = "unallocated"
MAX_SLOTS = 20
MIN_HOLDOUT, MAX_HOLDOUT = 1, 99
KEY_PREFIX = {Kind.HOLDOUT: "holdout", Kind.MUTEX: "mutex"}


def slot_variant(index: int) -> str:
    """Slots are numbered from 1, as Amplitude shows them."""
    return f"slot-{index}"


def new_group_key(kind: Kind) -> str:
    suffix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
    return f"{KEY_PREFIX[kind]}-{suffix}"


def new_group(kind: Kind, project_id: int, fields: Mapping[str, Any], *, actor: str,
              now: datetime) -> Flag:
    """A holdout or mutex from a create request (snake_case fields, absent ones defaulted)."""
    key = fields.get("key")
    if key is None:
        key = new_group_key(kind)
    rules.check_flag_key(key)
    group = Flag(
        project_id=project_id,
        kind=kind,
        key=key,
        name=fields["name"],
        description=fields.get("description") or "",
        bucketing_salt=fields.get("bucketing_salt") or rules.new_salt(),
        bucketing_key=fields.get("bucketing_key") or "amplitude_id",
        evaluation_mode=fields.get("evaluation_mode") or "remote",
        created_at=now,
        created_by=actor,
        last_modified_at=now,
        last_modified_by=actor,
        # A group is served whenever a served experiment depends on it; it has no on/off.
        enabled=True,
        started=True,
        rollout_percentage=100,
    )
    rules.check_one_of(group.evaluation_mode, rules.EVALUATION_MODES, "evaluationMode")
    if kind is Kind.HOLDOUT:
        percentage = fields["holdout_percentage"]
        check_holdout_percentage(percentage)
        inclusion = list(dict.fromkeys(fields.get("individual_inclusion") or []))
        exclusion = list(dict.fromkeys(fields.get("individual_exclusion") or []))
        check_disjoint(inclusion, exclusion)
        group.group_config = {
            "holdoutPercentage": percentage,
            "individualInclusion": inclusion,
            "individualExclusion": exclusion,
        }
        group.variants = [Variant(key=HOLDOUT, rollout_weight=percentage),
                          Variant(key=HOLDOUT_ON, rollout_weight=100 - percentage)]
    else:
        slots = fields["slots"]
        check_slots([slot["percentage"] for slot in slots])
        config_slots = []
        for slot in slots:
            config_slots.append({"percentage": slot["percentage"],
                                 "individuals": list(dict.fromkeys(slot.get("individuals") or []))})
        group.group_config = {"slots": config_slots}
        check_slot_individuals(group)
        group.variants = [Variant(key=slot_variant(i + 1), rollout_weight=slot["percentage"])
                          for i, slot in enumerate(slots)]
        group.variants.append(Variant(key=UNALLOCATED, rollout_weight=0))
    return group


# --- rules -----------------------------------------------------------------------------------

def check_holdout_percentage(value: int) -> None:
    if not MIN_HOLDOUT <= value <= MAX_HOLDOUT:
        raise Invalid(f"holdoutPercentage must be between {MIN_HOLDOUT} and {MAX_HOLDOUT}",
                      code="invalid_percentage")


def check_slots(percentages: Sequence[int]) -> None:
    if not 1 <= len(percentages) <= MAX_SLOTS:
        raise Invalid(f"slots must hold 1 to {MAX_SLOTS} slots", code="invalid_slots")
    for index, value in enumerate(percentages):
        if not 1 <= value <= 100:
            raise Invalid(f"slots[{index}].percentage must be between 1 and 100",
                          code="invalid_percentage")
    if sum(percentages) != 100:
        raise Invalid(f"slots percentages must sum to 100, not {sum(percentages)}",
                      code="invalid_slots")


def check_disjoint(inclusion: Sequence[str], exclusion: Sequence[str]) -> None:
    both = sorted(set(inclusion) & set(exclusion))
    if both:
        raise Invalid(f"individualExclusion repeats ids of individualInclusion: {', '.join(both[:5])}",
                      code="conflicting_individuals")


def check_slot_individuals(group: Flag) -> None:
    """A user or device id forced into two slots would be in the first only: refuse it."""
    owner: dict[str, int] = {}
    for index, slot in enumerate(slots_of(group), start=1):
        for user in slot["individuals"]:
            if user in owner:
                raise Invalid(f"individuals: '{user}' is already in slot {owner[user]}",
                              code="conflicting_individuals")
            owner[user] = index


def slots_of(group: Flag) -> list[dict[str, Any]]:
    return list((group.group_config or {}).get("slots") or [])


def slot_index(group: Flag, index: int) -> int:
    if not 1 <= index <= len(slots_of(group)):
        raise NotFound(f"slot {index} of mutex {group.id} not found", code="slot_not_found")
    return index


def allowed_variants(group: Flag, slot: int | None = None) -> list[str]:
    """What a member's parentDependencies allow: not held out, or this mutex slot."""
    return [HOLDOUT_ON] if group.kind is Kind.HOLDOUT else [slot_variant(slot or 1)]


def check_member(group: Flag, child: Flag, allowed: Sequence[str], where: str) -> None:
    """May `child` depend on `group` with these variants? `where` names the field at fault."""
    expected = "experiment" if group.kind is Kind.HOLDOUT else "experiment or holdout"
    if child.kind is not Kind.EXPERIMENT and not (group.kind is Kind.MUTEX and child.kind is Kind.HOLDOUT):
        raise Invalid(f"{where}: {child.kind.value} {child.id} cannot join a {group.kind.value}; "
                      f"only an {expected} can", code="invalid_member")
    if group.deleted:
        raise Invalid(f"{where}: {group.kind.value} {group.id} is archived", code="archived")
    if group.kind is Kind.HOLDOUT and list(allowed) != [HOLDOUT_ON]:
        raise Invalid(f"{where}: a member of holdout {group.id} must allow exactly ['{HOLDOUT_ON}']",
                      code="invalid_member")
    if group.kind is Kind.MUTEX:
        slots = [slot_variant(i) for i in range(1, len(slots_of(group)) + 1)]
        if len(allowed) != 1 or allowed[0] not in slots:
            raise Invalid(f"{where}: a member of mutex {group.id} sits in exactly one of its slots "
                          f"({', '.join(slots)})", code="invalid_member")
    if child.evaluation_mode == "local" and group.evaluation_mode != "local":
        # A locally evaluated flag is evaluated by the SDK, which must be able to evaluate
        # everything it depends on: a remote group cannot hold it.
        raise Invalid(f"{where}: {child.kind.value} {child.id} has evaluationMode local; the "
                      f"{group.kind.value} evaluates remotely, so it cannot hold it",
                      code="evaluation_mode_mismatch")


def check_one_group_per_kind(groups: Mapping[int, Flag]) -> None:
    """An experiment is in at most one holdout and one mutex (each group decides alone)."""
    seen: dict[Kind, int] = {}
    for group_id, group in groups.items():
        if group.kind in seen:
            raise Invalid(f"parentDependencies names {group.kind.value}s {seen[group.kind]} and "
                          f"{group_id}; a flag can be in one {group.kind.value} only",
                          code="invalid_member")
        seen[group.kind] = group_id


# --- edits -----------------------------------------------------------------------------------

def edit_holdout_lists(group: Flag, inclusion: list[str] | None, exclusion: list[str] | None) -> None:
    config = dict(group.group_config or {})
    if inclusion is not None:
        config["individualInclusion"] = list(dict.fromkeys(inclusion))
    if exclusion is not None:
        config["individualExclusion"] = list(dict.fromkeys(exclusion))
    check_disjoint(config["individualInclusion"], config["individualExclusion"])
    group.group_config = config


def set_slot_individuals(group: Flag, index: int, individuals: list[str]) -> None:
    config = dict(group.group_config or {})
    slots = [dict(slot) for slot in slots_of(group)]
    slots[index - 1]["individuals"] = list(dict.fromkeys(individuals))
    config["slots"] = slots
    group.group_config = config
    check_slot_individuals(group)


# --- documents -------------------------------------------------------------------------------

def member_ids(group: Flag, kind: Kind, variant: str | None = None) -> list[str]:
    return [str(m.id) for m in group.members
            if m.kind is kind and (variant is None or variant in m.variants)]


def group_document(group: Flag, iso: Any) -> dict[str, Any]:
    """The object GET answers; `iso` formats timestamps as every other document does."""
    config = group.group_config or {}
    head: dict[str, Any] = {
        "id": str(group.id),
        "projectId": str(group.project_id),
        "name": group.name,
        "key": group.key,
        "description": group.description,
    }
    bucketing = {
        "evaluationMode": group.evaluation_mode,
        "bucketingKey": group.bucketing_key,
        "bucketingSalt": group.bucketing_salt,
    }
    tail = {
        "deleted": group.deleted,
        "createdBy": group.created_by,
        "lastModifiedBy": group.last_modified_by,
        "createdAt": iso(group.created_at),
        "lastModifiedAt": iso(group.last_modified_at),
        "version": group.version,
    }
    if group.kind is Kind.HOLDOUT:
        return {
            **head,
            "holdoutPercentage": config.get("holdoutPercentage"),
            **bucketing,
            "variantName": HOLDOUT_ON,
            "experiments": member_ids(group, Kind.EXPERIMENT),
            "individualInclusion": list(config.get("individualInclusion") or []),
            "individualExclusion": list(config.get("individualExclusion") or []),
            # Set when the holdout sits in a mutex slot; the compiler gates it on that slot.
            "parentDependencies": _copy_deps(group.parent_dependencies),
            **tail,
        }
    slots = []
    for index, slot in enumerate(slots_of(group), start=1):
        variant = slot_variant(index)
        slots.append({
            "name": f"SLOT {index}",
            "index": index,
            "variantKey": variant,
            "percentage": slot["percentage"],
            "experiments": member_ids(group, Kind.EXPERIMENT, variant),
            "holdouts": member_ids(group, Kind.HOLDOUT, variant),
            "individuals": list(slot.get("individuals") or []),
            "cohorts": [],
        })
    return {**head, **bucketing, "slots": slots, **tail}


def _copy_deps(deps: dict[str, Any] | None) -> dict[str, Any] | None:
    if deps is None:
        return None
    return {"flags": {k: list(v) for k, v in (deps.get("flags") or {}).items()},
            "operator": deps.get("operator", "all")}

"""The flag aggregate. Flags and experiments are one model with a `kind`.

They share one id sequence and one key namespace per project, because SDKs evaluate by key.
Every method here is pure: it checks the rules and changes the object, or raises `Invalid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flagyard.errors import AlreadyExists, Forbidden, Invalid, NotFound
from flagyard.manage.model import rules
from flagyard.manage.model.access import Principal


class Kind(StrEnum):
    FLAG = "flag"
    EXPERIMENT = "experiment"
    # Holdout and mutual exclusion groups live in the same table and key namespace: the SDKs
    # evaluate them as flags that member experiments depend on (see manage/model/groups.py).
    HOLDOUT = "holdout"
    MUTEX = "mutex"

    @property
    def label(self) -> str:
        return self.value.title()

    @property
    def is_group(self) -> bool:
        return self in (Kind.HOLDOUT, Kind.MUTEX)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True, slots=True)
class FlagField:
    """A setting a client sets on a flag or experiment and reads back as it was set.

    Its attribute is also its column; its name in the management document, the API's bodies
    and project files is the attribute in camelCase.
    """

    attribute: str
    experiment_only: bool = False  # a flag refuses it and shows null
    in_project_file: bool = True  # a flag's entry in a project file holds it
    # Spelled once here: every document built (each write, each compile input) reads it.
    document_name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "document_name", camel(self.attribute))


# The one table of a flag's plain settings, in the order documents show them. The document,
# restore, project export and import, creation and the store read it; structured settings
# (variants, target segments, parent dependencies, deployments) have code of their own.
FLAG_FIELDS = (
    FlagField("name"),
    FlagField("description"),
    FlagField("evaluation_mode"),
    FlagField("bucketing_key"),
    FlagField("bucketing_salt"),
    FlagField("bucketing_unit"),
    FlagField("rolled_out_variant", experiment_only=True),
    FlagField("rollout_percentage"),
    FlagField("sticky_bucketing"),
    FlagField("start_date", experiment_only=True),
    FlagField("end_date", experiment_only=True),
    FlagField("experiment_type", experiment_only=True),
    FlagField("tags"),
    FlagField("decision", experiment_only=True),
    FlagField("decision_reason", experiment_only=True),
    FlagField("exposure_event", experiment_only=True),
    FlagField("delivery_method", in_project_file=False),
)
# Fields that only make sense for an experiment; a flag refuses them.
EXPERIMENT_ONLY = tuple(f.attribute for f in FLAG_FIELDS if f.experiment_only)


@dataclass
class Variant:
    key: str
    name: str = ""
    description: str = ""
    payload: Any = None
    rollout_weight: int = 1
    id: int = 0  # storage identity, so a renamed variant keeps its inclusions

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Variant:
        """A new variant from what a client sent; unset fields take their defaults."""
        weight = fields.get("rollout_weight")
        return cls(
            key=fields["key"],
            name=fields.get("name") or "",
            description=fields.get("description") or "",
            payload=fields.get("payload"),
            rollout_weight=1 if weight is None else weight,
        )


@dataclass(frozen=True)
class Member:
    """A flag whose parentDependencies name a group, and the group variants it allows."""

    id: int
    kind: Kind
    variants: tuple[str, ...]


@dataclass
class Flag:
    project_id: int
    kind: Kind
    key: str
    bucketing_salt: str
    created_at: datetime
    created_by: str
    id: int = 0
    name: str = ""
    description: str = ""
    enabled: bool = False
    evaluation_mode: str = "remote"
    bucketing_key: str = "amplitude_id"
    bucketing_unit: str = "User"
    rollout_percentage: int = 0
    variants: list[Variant] = field(default_factory=list)
    target_segments: list[dict[str, Any]] = field(default_factory=list)
    parent_dependencies: dict[str, Any] | None = None
    sticky_bucketing: bool = False
    started: bool = False  # enabled at least once; an experiment leaves "planning" for good
    start_date: str | None = None
    end_date: str | None = None
    experiment_type: str | None = None
    deleted: bool = False
    tags: list[str] = field(default_factory=list)
    decision: str | None = None
    decision_reason: str | None = None
    rolled_out_variant: str | None = None
    exposure_event: dict[str, Any] | None = None
    delivery_method: str = "feature"
    deployments: list[int] = field(default_factory=list)
    last_modified_by: str = ""
    last_modified_at: datetime | None = None
    version: int = 0
    group_config: dict[str, Any] | None = None  # holdout / mutex settings; None on flags
    # Read, never written: the flags that depend on this group (its experiments, and for a
    # mutex the holdouts in its slots). Their parentDependencies are the one record of it.
    members: list[Member] = field(default_factory=list)

    # --- reading -------------------------------------------------------------------------

    @property
    def variant_keys(self) -> list[str]:
        return [v.key for v in self.variants]

    @property
    def rollout_weights(self) -> dict[str, int]:
        return {v.key: v.rollout_weight for v in self.variants}

    @property
    def served_to_everyone(self) -> str | None:
        """The variant every user gets, when the flag is on for all with one variant (its
        rollout and each targeted segment at 100 % to the same variant, no prerequisite):
        once that holds for a while the flag is a candidate for removal. Users included in a
        variant one by one are not considered."""
        if self.kind not in (Kind.FLAG, Kind.EXPERIMENT) or not self.enabled or self.deleted:
            return None
        if parent_ids(self):
            return None
        served = _sole_variant(self.rollout_percentage, self.rollout_weights)
        for segment in self.target_segments:
            if _sole_variant(segment.get("percentage", 0), segment.get("rolloutWeights") or {}) != served:
                return None
        return served

    @property
    def state(self) -> str | None:
        if self.kind is Kind.FLAG:
            return None
        if self.deleted:
            return "archived"
        if self.decision:
            return "decision-made"
        if self.enabled:
            return "running"
        return "stopped" if self.started else "planning"

    def variant(self, key: str) -> Variant:
        for variant in self.variants:
            if variant.key == key:
                return variant
        raise NotFound(f"variant '{key}' does not exist on {self.kind.value} {self.id}",
                       code="variant_not_found")

    # --- guards ----------------------------------------------------------------------------

    def ensure_editable(self) -> None:
        if self.deleted:
            raise Invalid(f"Cannot edit archived {self.kind.value}; unarchive it first",
                          code="archived")

    def ensure_can_enable(self) -> None:
        if not self.deployments:
            raise Invalid("enabled: cannot activate without deployments", code="no_deployments")

    # --- edits ----------------------------------------------------------------------------

    def edit(self, changes: Mapping[str, Any]) -> None:
        """Apply a PATCH. `changes` holds only the fields the client sent (snake_case)."""
        if "archive" in changes:
            if len(changes) > 1:
                raise Invalid("archive must be sent alone", code="archive_not_alone")
            self.deleted = bool(changes["archive"])
            return
        self.ensure_editable()
        if self.kind is Kind.FLAG:
            for name in EXPERIMENT_ONLY:
                if name in changes:
                    raise Invalid(f"{camel(name)} is not allowed for flags", code="not_allowed")
        # Check every field before changing any, so a refused edit leaves the flag as it was.
        for name, value in changes.items():
            self.check_setting(name, value)
        if changes.get("enabled"):
            self.ensure_can_enable()
        for name, value in changes.items():
            setattr(self, name, value)
        self.started = self.started or self.enabled

    def check_setting(self, name: str, value: Any) -> None:
        """Refuse a value the setting may not take (`Invalid` naming the field)."""
        if name == "target_segments":
            check_segments(value, self.variant_keys)
        elif name == "rollout_percentage":
            rules.check_percentage(value, "rolloutPercentage")
        elif name == "evaluation_mode":
            rules.check_one_of(value, rules.EVALUATION_MODES, "evaluationMode")
        elif name == "experiment_type":
            rules.check_one_of(value, rules.EXPERIMENT_TYPES, "experimentType")
        elif name == "decision" and value is not None:
            rules.check_one_of(value, rules.DECISIONS, "decision")
        elif name == "rolled_out_variant" and value is not None:
            if value not in self.variant_keys:
                raise Invalid(f"rolledOutVariant '{value}' names no variant", code="unknown_variant")
        elif name in ("bucketing_key", "bucketing_salt", "bucketing_unit") and not value:
            raise Invalid(f"{camel(name)} must not be empty", code="invalid_value")

    def set_enabled(self, enabled: bool) -> None:
        self.ensure_editable()
        if enabled:
            self.ensure_can_enable()
        self.enabled = enabled
        self.started = self.started or enabled

    def set_rollout_weights(self, weights: Mapping[str, int], field_name: str = "rolloutWeights") -> None:
        """Replace the weights of all variants; a variant the map leaves out gets 0."""
        rules.check_weights(weights, self.variant_keys, field_name)
        for variant in self.variants:
            variant.rollout_weight = weights.get(variant.key, 0)

    # --- variants -------------------------------------------------------------------------

    def add_variant(self, variant: Variant, field_name: str = "key") -> None:
        rules.check_variant_key(variant.key, field_name)
        if variant.key in self.variant_keys:
            raise AlreadyExists(f"variant '{variant.key}' already exists", code="variant_exists")
        if variant.rollout_weight < 0:
            raise Invalid("rolloutWeight must not be negative", code="invalid_weight")
        self.variants.append(variant)

    def edit_variant(self, key: str, changes: Mapping[str, Any]) -> None:
        variant = self.variant(key)
        new_key = changes.get("key", key)
        if new_key != key:
            rules.check_variant_key(new_key, "key")
            if new_key in self.variant_keys:
                raise AlreadyExists(f"variant '{new_key}' already exists", code="variant_exists")
            self._rename_variant(key, new_key)
        for name in ("name", "description", "payload"):
            if name in changes:
                setattr(variant, name, changes[name])
        if "rollout_weight" in changes:
            if changes["rollout_weight"] < 0:
                raise Invalid("rolloutWeight must not be negative", code="invalid_weight")
            variant.rollout_weight = changes["rollout_weight"]
        variant.key = new_key

    def remove_variant(self, key: str) -> None:
        variant = self.variant(key)
        self.variants.remove(variant)
        for segment in self.target_segments:
            segment["rolloutWeights"].pop(key, None)
        if self.rolled_out_variant == key:
            self.rolled_out_variant = None

    def _rename_variant(self, old: str, new: str) -> None:
        for segment in self.target_segments:
            weights = segment["rolloutWeights"]
            if old in weights:
                segment["rolloutWeights"] = {new if k == old else k: w for k, w in weights.items()}
        if self.rolled_out_variant == old:
            self.rolled_out_variant = new

    # --- deployments ----------------------------------------------------------------------

    def link_deployments(self, deployment_ids: list[int]) -> None:
        for deployment_id in deployment_ids:
            if deployment_id not in self.deployments:
                self.deployments.append(deployment_id)

    def unlink_deployment(self, deployment_id: int) -> None:
        if deployment_id not in self.deployments:
            raise NotFound(
                f"deployment {deployment_id} is not linked to {self.kind.value} {self.id}",
                code="deployment_not_linked",
            )
        if self.enabled and len(self.deployments) == 1:
            raise Invalid(
                f"cannot remove the last deployment of an enabled {self.kind.value}; disable it first",
                code="last_deployment",
            )
        self.deployments.remove(deployment_id)


def parent_ids(flag: Flag) -> list[int]:
    """The ids of the flags this one depends on (its parentDependencies)."""
    deps = flag.parent_dependencies or {}
    return [int(i) for i in (deps.get("flags") or {})]


def visible_flag(found: Flag | None, principal: Principal, kind: Kind, flag_id: int) -> Flag:
    """The flag, if this key may see it. A project-scoped key gets 403 for any id outside its
    projects, known or not, so it cannot probe which ids exist elsewhere."""
    visible = found is not None and principal.can_see(found.project_id)
    if found is not None and visible and found.kind is kind:
        return found
    if principal.project_ids is not None and not visible:
        raise Forbidden(f"this key has no access to {kind.value} {flag_id}", code="project_forbidden")
    raise NotFound(f"{kind.label} {flag_id} not found", code=f"{kind.value}_not_found")


def _sole_variant(percentage: int, weights: Mapping[str, int]) -> str | None:
    """The one variant a rollout gives to all it covers, when it covers everyone."""
    chosen = [key for key, weight in weights.items() if weight > 0]
    return chosen[0] if percentage == 100 and len(chosen) == 1 else None


def check_segments(segments: list[dict[str, Any]], variant_keys: list[str]) -> None:
    for index, segment in enumerate(segments):
        where = f"targetSegments[{index}]"
        rules.check_percentage(segment["percentage"], f"{where}.percentage")
        rules.check_weights(segment["rolloutWeights"], variant_keys, f"{where}.rolloutWeights")


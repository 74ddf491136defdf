"""The project file: a whole project as one readable document (flags as code).

Shape (docs/export-format.md): `formatVersion`, `deployments` by label, `flags` and
`experiments` by key, each with its variants, inclusion lists, deployment links (labels),
target segments and parent dependencies (keys). No database ids: keys and labels identify
everything, so the file applies to any project. Sections are sorted and every field is
written, so two exports of one project are byte-identical and a change is a small diff.

Parsing refuses the whole document at its first problem, named by location
(`flags[3].variants[1].key: ...`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from flagyard.errors import Invalid
from flagyard.manage.model.creation import DEFAULT_VARIANTS
from flagyard.manage.model.deployments import DEPLOYMENT_TYPES, MAX_LABEL_LENGTH
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.limits import json_value, unicode_text
from flagyard.manage.model.rules import (
    DECISIONS,
    EVALUATION_MODES,
    EXPERIMENT_TYPES,
    FLAG_KEY,
    MAX_KEY_LENGTH,
    VARIANT_KEY,
    iso_date,
)
from flagyard.manage.model.targeting import ENGINE_OPS, GLOB_OPS

FORMAT_VERSION = 1

_Storable = AfterValidator(unicode_text)  # text as the API accepts it (manage/model/limits.py)
FlagKey = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_KEY_LENGTH,
                               pattern=f"^{FLAG_KEY.pattern}$"), _Storable]
VariantKey = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_KEY_LENGTH,
                                  pattern=f"^{VARIANT_KEY.pattern}$"), _Storable]
Tag = Annotated[str, Field(strict=True, max_length=MAX_KEY_LENGTH), _Storable]
Label = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_LABEL_LENGTH), _Storable]
Name = Annotated[str, Field(strict=True, max_length=1000), _Storable]
Description = Annotated[str, Field(strict=True, max_length=20_000), _Storable]
NonEmpty = Annotated[str, Field(strict=True, min_length=1, max_length=1000), _Storable]
Id = NonEmpty
IsoDate = Annotated[Name | None, AfterValidator(iso_date)]
Percentage = Annotated[StrictInt, Field(ge=0, le=100)]
Weight = Annotated[StrictInt, Field(ge=0, le=1_000_000)]
Json = Annotated[Any, AfterValidator(json_value)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class Condition(_Part):
    type: Literal["property"] = "property"
    prop: NonEmpty
    op: str
    values: Annotated[list[Name], Field(max_length=10_000)]

    @field_validator("op")
    @classmethod
    def _known_op(cls, op: str) -> str:
        if op not in ENGINE_OPS and op not in GLOB_OPS:
            raise ValueError(f"'{op}' is not a condition operator")
        return op


class TargetSegment(_Part):
    name: Name
    conditions: Annotated[list[Condition], Field(max_length=100)] = Field(default_factory=list)
    percentage: Percentage
    bucketing_key: NonEmpty | None = None
    rollout_weights: dict[VariantKey, Weight]


class ParentDependencies(_Part):
    operator: Literal["all"] = "all"
    flags: dict[FlagKey, list[VariantKey]]  # parent flag key → allowed variants


class Variant(_Part):
    key: VariantKey
    name: Name = ""
    description: Description = ""
    payload: Json = None
    rollout_weight: Weight = 1
    users: list[Id] = Field(default_factory=list)  # user and device ids included
    cohorts: list[Id] = Field(default_factory=list)  # cohort ids included


class Flag(_Part):
    key: FlagKey
    name: Name | None = None  # absent: the key, as on create
    description: Description = ""
    archived: StrictBool = False
    enabled: StrictBool = False
    evaluation_mode: Literal[EVALUATION_MODES] = "remote"  # type: ignore[valid-type]
    bucketing_key: NonEmpty = "amplitude_id"
    bucketing_salt: NonEmpty | None = None  # absent: a new salt
    bucketing_unit: NonEmpty = "User"
    rollout_percentage: Percentage = 0
    sticky_bucketing: StrictBool = False
    tags: Annotated[list[Tag], Field(max_length=100)] = Field(default_factory=list)
    deployments: list[Label] = Field(default_factory=list)
    parent_dependencies: ParentDependencies | None = None
    target_segments: Annotated[list[TargetSegment], Field(max_length=100)] = Field(
        default_factory=list)
    variants: Annotated[list[Variant], Field(max_length=100)] | None = None  # absent: the defaults of a new flag


class Experiment(Flag):
    experiment_type: Literal[EXPERIMENT_TYPES] = "a-b-test"  # type: ignore[valid-type]
    start_date: IsoDate = None
    end_date: IsoDate = None
    exposure_event: Annotated[dict[str, Any], AfterValidator(json_value)] | None = None
    decision: Literal[DECISIONS] | None = None  # type: ignore[valid-type]
    decision_reason: Description | None = None
    rolled_out_variant: VariantKey | None = None


class Deployment(_Part):
    label: Label
    type: Literal[DEPLOYMENT_TYPES] = "server"  # type: ignore[valid-type]
    archived: StrictBool = False


class ProjectFile(_Part):
    format_version: Literal[1] = 1
    deployments: list[Deployment] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    experiments: list[Experiment] = Field(default_factory=list)
    # Holdout and mutex groups and cohorts get sections of their own here when they exist.

    @field_validator("format_version", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be 1, the only format version so far")
        return value

    def entries(self) -> list[tuple[Kind, str, Flag]]:
        """(kind, location, entry) for every flag and experiment, flags first."""
        return [(Kind.FLAG, f"flags[{i}]", f) for i, f in enumerate(self.flags)] + [
            (Kind.EXPERIMENT, f"experiments[{i}]", e) for i, e in enumerate(self.experiments)
        ]


def parse(raw: Any) -> ProjectFile:
    """The document, or `Invalid` naming where the first problem is."""
    if not isinstance(raw, dict):
        raise Invalid("the document must be a JSON or YAML object with formatVersion, "
                      "deployments, flags and experiments", code="invalid_document")
    try:
        document = ProjectFile.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        raise Invalid(f"{_location(first['loc'])}: {_reason(first)}",
                      code="invalid_document") from None
    _check_unique(document)
    return document


def _check_unique(document: ProjectFile) -> None:
    labels = [d.label for d in document.deployments]
    _first_repeat(labels, "deployments", "label")
    # Flags and experiments share one key namespace per project.
    keys = [(where, entry.key) for _, where, entry in document.entries()]
    seen: dict[str, str] = {}
    for where, key in keys:
        if key in seen:
            raise Invalid(f"{where}.key: '{key}' is also the key of {seen[key]}",
                          code="invalid_document")
        seen[key] = where
    for kind, where, entry in document.entries():
        variant_keys = [v.key for v in variants_of(kind, entry)]
        _first_repeat(variant_keys, f"{where}.variants", "key")
        for index, variant in enumerate(entry.variants or []):
            _first_repeat(variant.users, f"{where}.variants[{index}].users", "")
            _first_repeat(variant.cohorts, f"{where}.variants[{index}].cohorts", "")
        _first_repeat(entry.deployments, f"{where}.deployments", "")
        if "off" in variant_keys:
            index = variant_keys.index("off")
            raise Invalid(f"{where}.variants[{index}].key: 'off' is reserved",
                          code="invalid_document")


def _first_repeat(values: list[str], where: str, field: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            at = f"{where}[{index}].{field}" if field else f"{where}[{index}]"
            raise Invalid(f"{at}: '{value}' is listed twice",
                          code="invalid_document")
        seen.add(value)


def variants_of(kind: Kind, entry: Flag) -> list[Variant]:
    if entry.variants is not None:
        return entry.variants
    return [Variant(key=key) for key in DEFAULT_VARIANTS[kind]]


def canonical(kind: Kind, entry: Flag) -> dict[str, Any]:
    """The entry as export writes it: defaults filled, so equal meaning is equal data."""
    data = entry.model_dump(mode="json", by_alias=True)
    data["name"] = entry.name if entry.name is not None else entry.key
    data["variants"] = [v.model_dump(mode="json", by_alias=True) for v in variants_of(kind, entry)]
    data["deployments"] = sorted(data["deployments"])  # links have no order
    for segment in data["targetSegments"]:
        if segment.get("bucketingKey") is None:
            segment.pop("bucketingKey", None)
    return data


def _location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "json-or-python", "lax-or-strict")):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "document"


def _reason(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of this section"
    if kind == "string_pattern_mismatch":
        return "may contain only letters, digits and - _ (. in flag keys)"
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")

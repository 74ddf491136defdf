"""Targeting pieces of the evaluation compiler: selectors, conditions and bucketed segments.

Everything here is pure. Invalid input raises `Uncompilable`; `flagyard.serve.compile.compiler`
turns that into a warning and an always-off flag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from flagyard.manage.model.targeting import ENGINE_OPS, GLOB_OPS, USER_FIELDS

OFF = "off"
ALL_OTHER_USERS = "All Other Users"
INCLUSIONS = "individual-inclusions"
DEPENDENCIES = "flag-dependencies"
STICKY = "sticky-bucketing"

# The distribution space: a hash `h` is bucketed on `h // 100`, which lies in [0, 42949673).
DISTRIBUTION_END = 42949673

ID_BUCKETING_KEYS = frozenset({"user_id", "device_id", "amplitude_id"})

REGEX_OPS = frozenset({"regex match", "regex does not match"})

# Characters with a meaning in Python, JavaScript and Java regular expressions outside a
# character class. Escaping only these keeps the pattern valid in every SDK's engine.
_REGEX_SPECIAL = frozenset("\\^$.|?*+()[]{}")


class Uncompilable(Exception):
    """The management document cannot be turned into an evaluation config."""


def show(value: Any) -> str:
    """A short repr of a value for a warning message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def user_selector(field: str) -> list[str]:
    if field in USER_FIELDS:
        return ["context", "user", field]
    return ["context", "user", "user_properties", field]


def bucket_selector(bucketing_key: str, bucketing_unit: str) -> list[str]:
    """Where the engine reads the value it hashes."""
    if bucketing_unit != "User":
        return ["context", "groups", bucketing_unit, "group_name"]
    if bucketing_key in ID_BUCKETING_KEYS:
        return ["context", "user", bucketing_key]
    return ["context", "user", "user_properties", bucketing_key]


def glob_to_regex(glob: str) -> str:
    """`*` is any run, `?` one character, everything else literal; anchored at both ends."""
    parts: list[str] = []
    for char in glob:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char in _REGEX_SPECIAL:
            parts.append("\\" + char)
        else:
            parts.append(char)
    return "^" + "".join(parts) + "$"


def string_value(value: Any, where: str) -> str:
    """Condition values and ids must reach the SDK as strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise Uncompilable(f"{where} must be a string, got {type(value).__name__}")


def string_list(values: Any, where: str) -> list[str]:
    if not isinstance(values, list | tuple):
        raise Uncompilable(f"{where} must be a list")
    return [string_value(value, f"{where}[{i}]") for i, value in enumerate(values)]


def _condition_selector(condition: Mapping[str, Any], where: str) -> list[str]:
    prop = condition.get("prop")
    if not isinstance(prop, str) or not prop:
        raise Uncompilable(f"{where}.prop must be a non-empty string")
    name = prop.removeprefix("gp:")
    if not name:
        raise Uncompilable(f"{where}.prop names no property")
    group_type = condition.get("group_type", condition.get("groupType"))
    if group_type is not None and group_type != "User":
        if not isinstance(group_type, str) or not group_type:
            raise Uncompilable(f"{where}.group_type must be a non-empty string")
        if name == "cohort_ids":  # the group's cohorts, where the SDKs put them
            return ["context", "groups", group_type, "cohort_ids"]
        return ["context", "groups", group_type, "group_properties", name]
    if prop.startswith("gp:"):
        return ["context", "user", "user_properties", name]
    return user_selector(name)


def compile_condition(condition: Any, where: str) -> dict[str, Any]:
    if not isinstance(condition, Mapping):
        raise Uncompilable(f"{where} must be an object")
    kind = condition.get("type", "property")
    if kind != "property":
        raise Uncompilable(f"{where}.type {show(kind)} is not supported (only 'property')")
    op = condition.get("op")
    values = string_list(condition.get("values"), f"{where}.values")
    if op in GLOB_OPS:
        return {
            "selector": _condition_selector(condition, where),
            "op": GLOB_OPS[op],
            "values": [glob_to_regex(value) for value in values],
        }
    if op not in ENGINE_OPS:
        raise Uncompilable(f"{where}.op {show(op)} is not a known operator")
    if op in REGEX_OPS:
        for i, value in enumerate(values):
            try:
                re.compile(value)
            except re.error as exc:
                raise Uncompilable(f"{where}.values[{i}] is not a valid regex: {exc}") from None
    return {"selector": _condition_selector(condition, where), "op": op, "values": values}


def _whole(value: Any) -> bool:
    """An int, or a float with no fractional part (JSON does not tell 50 from 50.0)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def percentage(value: Any, where: str) -> int:
    if not _whole(value) or not 0 <= value <= 100:
        raise Uncompilable(f"{where} must be a whole number from 0 to 100, got {show(value)}")
    return int(value)


def weights(raw: Any, variant_keys: Sequence[str], where: str) -> list[tuple[str, int]]:
    """(variant, weight) in variant order; variants the mapping does not name weigh 0."""
    if not isinstance(raw, Mapping):
        raise Uncompilable(f"{where} must be an object of variant key to weight")
    for key in raw:
        if key not in variant_keys:
            raise Uncompilable(f"{where} names variant {show(key)}, which the flag does not have")
    result: list[tuple[str, int]] = []
    for key in variant_keys:
        weight = raw.get(key, 0)
        if not _whole(weight) or weight < 0:
            message = f"{where}.{key} must be a non-negative whole number, got {show(weight)}"
            raise Uncompilable(message)
        result.append((key, int(weight)))
    return result


def distributions(weighted: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """Lay positive weights contiguously over [0, DISTRIBUTION_END).

    Each variant ends at ceil(cumulative_weight / total * DISTRIBUTION_END), computed in
    integers; the next one starts where the previous ended, so ranges never overlap.
    """
    positive = [(key, weight) for key, weight in weighted if weight > 0]
    total = sum(weight for _, weight in positive)
    result: list[dict[str, Any]] = []
    start = cumulative = 0
    for key, weight in positive:
        cumulative += weight
        end = -(-cumulative * DISTRIBUTION_END // total)
        if end > start:
            result.append({"variant": key, "range": [start, end]})
        start = end
    return result


def bucketed_segment(
    *,
    name: str,
    conditions: list[list[dict[str, Any]]] | None,
    selector: list[str],
    salt: str,
    percent: int,
    weighted: Sequence[tuple[str, int]],
) -> dict[str, Any]:
    """A segment that allocates `percent` of its users and splits them by weight.

    Shortcuts: nobody allocated (0 % or no positive weight) → a fixed "off" segment; everyone
    allocated to a single variant → that variant with no bucket, so users without a
    bucketing value get it too.
    """
    segment: dict[str, Any] = {}
    if conditions:
        segment["conditions"] = conditions
    dists = distributions(weighted)
    if percent == 0 or not dists:
        segment["variant"] = "off"
    elif percent == 100 and len(dists) == 1:
        segment["variant"] = dists[0]["variant"]
    else:
        segment["bucket"] = {
            "selector": selector,
            "salt": salt,
            "allocations": [{"range": [0, percent], "distributions": dists}],
        }
        segment["variant"] = "off"
    segment["metadata"] = {"segmentName": name}
    return segment


def dependency_segment(
    parents: Sequence[tuple[str, list[str]]], gate_closed: bool
) -> dict[str, Any]:
    """Off unless every parent served an allowed variant; always off when a parent is missing."""
    segment: dict[str, Any] = {}
    if not gate_closed:
        segment["conditions"] = [
            [{"selector": ["result", key, "key"], "op": "is not", "values": list(allowed)}]
            for key, allowed in parents
        ]
    segment["variant"] = OFF
    segment["metadata"] = {"segmentName": DEPENDENCIES}
    return segment


def user_inclusion_segment(variant: str, ids: list[str]) -> dict[str, Any]:
    """`variant` for a user whose user id or device id is listed."""
    return {
        "conditions": [
            [{"selector": user_selector("user_id"), "op": "is", "values": list(ids)}],
            [{"selector": user_selector("device_id"), "op": "is", "values": list(ids)}],
        ],
        "variant": variant,
        "metadata": {"segmentName": INCLUSIONS},
    }


def cohort_inclusion_segment(variant: str, ids: list[str], unit: str) -> dict[str, Any]:
    """`variant` for a user (or, with a group bucketing unit, a group) in a listed cohort."""
    selectors = [user_selector("cohort_ids")]
    if unit != "User":
        selectors.append(["context", "groups", unit, "cohort_ids"])
    return {
        "conditions": [
            [{"selector": selector, "op": "set contains any", "values": list(ids)}]
            for selector in selectors
        ],
        "variant": variant,
        "metadata": {"segmentName": INCLUSIONS},
    }


def sticky_segment(flag_key: str, variant: str) -> dict[str, Any]:
    """`variant` for a user whose `[Experiment] <flag key>` user property names it."""
    selector = ["context", "user", "user_properties", f"[Experiment] {flag_key}"]
    return {
        "conditions": [[{"selector": selector, "op": "is", "values": [variant]}]],
        "variant": variant,
        "metadata": {"segmentName": STICKY},
    }

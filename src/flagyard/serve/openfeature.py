"""flagyard's model in OpenFeature's terms (OFREP), both ways. Pure; see docs/openfeature.md.

Request side: an OpenFeature evaluation context becomes the Amplitude user that
`/sdk/v2/vardata` would be sent, so one user gets one answer on every route.
Response side: an Amplitude variant (`{key, value?, payload?, metadata}`) becomes an OFREP
evaluation `{key, reason, variant, value?, metadata}`, inside OFREP 0.3.0's schema: a reason
from its list and a value that is a boolean, string, number or object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagyard import engine
from flagyard.errors import Invalid
from flagyard.serve.compile.segments import ALL_OTHER_USERS, INCLUSIONS, OFF, STICKY, USER_FIELDS

# Reasons, as OpenFeature names them: the ones OFREP 0.3.0 allows (its UNKNOWN is not needed).
# OpenFeature's DEFAULT is not among them; see `_reason` and ADR 0051.
STATIC = "STATIC"
TARGETING_MATCH = "TARGETING_MATCH"
SPLIT = "SPLIT"
DISABLED = "DISABLED"

# An array payload is sent wrapped, as `{"items": [...]}`: OFREP's values are booleans, strings,
# numbers and objects. The metadata says so, so a client can tell it from an object payload.
ARRAY_ITEMS = "items"
ARRAY_WRAPPED = "arrayWrapped"

# Context attributes with a place of their own in the Amplitude user; every other attribute
# is a user property.
_STRUCTURED = frozenset({"user_properties", "groups", "group_properties"})


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def context_to_user(context: Any) -> dict[str, Any]:
    """The Amplitude user for an OpenFeature context.

    `targetingKey` is the user id and, unless the context names a `device_id`, the device id
    too: flags bucket by device id by default (see ADR 0100), so this keeps a targeting key's
    variant stable. Raises `Invalid` with code `invalid_context` or `targeting_key_missing`.
    """
    if not isinstance(context, Mapping):
        raise Invalid("context must be a JSON object", code="invalid_context")
    targeting_key = context.get("targetingKey")
    if targeting_key is not None and not isinstance(targeting_key, str):
        raise Invalid("targetingKey must be a string", code="invalid_context")
    user: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for name, value in context.items():
        if name == "targetingKey" or value is None:
            continue
        if name == "user_properties":
            if not isinstance(value, Mapping):
                raise Invalid("user_properties must be an object", code="invalid_context")
            properties.update(value)
        elif name in _STRUCTURED:
            _check_groups(name, value)
            user[name] = value
        elif name == "cohort_ids":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise Invalid("cohort_ids must be an array of strings", code="invalid_context")
            user[name] = value
        elif name in USER_FIELDS:
            if not _scalar(value):
                raise Invalid(f"{name} must be a string, number or boolean", code="invalid_context")
            user[name] = value if isinstance(value, str | bool) else str(value)
        else:
            properties[name] = value
    if targeting_key:
        if user.get("user_id", targeting_key) != targeting_key:
            raise Invalid("user_id differs from targetingKey; send one of them",
                          code="invalid_context")
        user["user_id"] = targeting_key
        user.setdefault("device_id", targeting_key)
    elif not user.get("user_id") and not user.get("device_id"):
        raise Invalid("targetingKey is required (or a device_id for an anonymous device)",
                      code="targeting_key_missing")
    if properties:
        user["user_properties"] = properties
    return user


def _check_groups(name: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise Invalid(f"{name} must be an object", code="invalid_context")
    if name == "groups":
        for group_type, names in value.items():
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise Invalid(f"groups.{group_type} must be an array of group names",
                              code="invalid_context")


def evaluation(flag_key: str, variant: Mapping[str, Any] | None,
               flag: engine.Flag | None) -> dict[str, Any]:
    """The OFREP success body for one served flag's variant."""
    variant = variant or {"key": OFF, "metadata": {"default": True}}
    metadata: Mapping[str, Any] = variant.get("metadata") or {}
    out: dict[str, Any] = {
        "key": flag_key,
        "reason": _reason(variant, metadata, flag),
        "variant": variant.get("key") or OFF,
    }
    value = variant.get("payload", variant.get("value"))
    out["metadata"] = {k: v for k, v in metadata.items() if _scalar(v)}
    if value is not None and not metadata.get("default"):
        if isinstance(value, list):
            value = {ARRAY_ITEMS: value}
            out["metadata"][ARRAY_WRAPPED] = True
        out["value"] = value  # absent: "use the code default" (OFREP ADR-0006)
    return out


def disabled(flag_key: str) -> dict[str, Any]:
    """A flag linked to the deployment but switched off: a success telling the code default."""
    return {"key": flag_key, "reason": DISABLED, "variant": OFF, "metadata": {}}


def _reason(variant: Mapping[str, Any], metadata: Mapping[str, Any],
            flag: engine.Flag | None) -> str:
    """How the segment that served reached its answer, whether or not that answer has a value.

    The default (`off`, no `value`: the code default) gets the reason of the path that led to
    it, like any other variant: outside a rollout is `SPLIT` (the bucketing decided), a closed
    dependency gate `TARGETING_MATCH`, a flag serving `off` to everyone `STATIC`. OFREP 0.3.0 has
    no `DEFAULT`; the missing `value` already says "use the code default" (its ADR-0006).
    """
    segment_name = metadata.get("segmentName")
    if segment_name in (INCLUSIONS, STICKY):
        return TARGETING_MATCH
    segments = flag.segments if flag is not None else ()
    # Segments are told apart by name; with two target segments of one name, the first counts.
    segment = next((s for s in segments if (s.metadata or {}).get("segmentName") == segment_name),
                   None)
    if segment is not None and segment.bucket is not None:
        return SPLIT
    if segment_name == ALL_OTHER_USERS and len(segments) == 1:
        return STATIC
    # A rule was checked against the context: a target segment, the dependency gate, or
    # "All Other Users" after other rules did not match (OpenFeature would call that DEFAULT).
    return TARGETING_MATCH

"""Amplitude's flag JSON (camelCase, as served on /sdk/v2/flags) to and from the model.

Parsing is strict like the Python SDK's schema: unknown keys, missing required
keys and wrong types raise InvalidFlag naming the path, e.g.
`flags[2].segments[0].bucket.salt is required`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .errors import InvalidFlag
from .model import Allocation, Bucket, Condition, Distribution, Flag, Segment, Variant

T = TypeVar("T")

_FLAG_KEYS = frozenset({"key", "variants", "segments", "dependencies", "metadata"})
_VARIANT_KEYS = frozenset({"key", "value", "payload", "metadata"})
_SEGMENT_KEYS = frozenset({"bucket", "conditions", "variant", "metadata"})
_BUCKET_KEYS = frozenset({"selector", "salt", "allocations"})
_ALLOCATION_KEYS = frozenset({"range", "distributions"})
_DISTRIBUTION_KEYS = frozenset({"variant", "range"})
_CONDITION_KEYS = frozenset({"selector", "op", "values"})


# -- parsing helpers ---------------------------------------------------------------


def _object(data: Any, path: str, allowed: frozenset[str], required: Iterable[str] = ()) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidFlag(f"{path} must be an object")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidFlag(f"{path}.{unknown[0]} is not an allowed key")
    for key in required:
        if data.get(key) is None:
            raise InvalidFlag(f"{path}.{key} is required")
    return data


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidFlag(f"{path} must be a string")
    return value


def _optional_string(value: Any, path: str) -> str | None:
    return None if value is None else _string(value, path)


def _strings(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidFlag(f"{path} must be a list of strings")
    return tuple(_string(item, f"{path}[{i}]") for i, item in enumerate(value))


def _list(value: Any, path: str, parse: Callable[[Any, str], T]) -> tuple[T, ...]:
    if not isinstance(value, list):
        raise InvalidFlag(f"{path} must be a list")
    return tuple(parse(item, f"{path}[{i}]") for i, item in enumerate(value))


def _metadata(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidFlag(f"{path} must be an object")
    return dict(value)


def _integer(value: Any, path: str) -> int:
    # Integral floats (e.g. 100.0) are accepted as the SDK's schema coerces them.
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise InvalidFlag(f"{path} must be an integer")


def _range(value: Any, path: str) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidFlag(f"{path} must be a list of two integers")
    return _integer(value[0], f"{path}[0]"), _integer(value[1], f"{path}[1]")


# -- parsers per type ---------------------------------------------------------------


def _distribution(data: Any, path: str) -> Distribution:
    obj = _object(data, path, _DISTRIBUTION_KEYS, ("variant", "range"))
    return Distribution(
        variant=_string(obj["variant"], f"{path}.variant"),
        range=_range(obj["range"], f"{path}.range"),
    )


def _allocation(data: Any, path: str) -> Allocation:
    obj = _object(data, path, _ALLOCATION_KEYS, ("range", "distributions"))
    return Allocation(
        range=_range(obj["range"], f"{path}.range"),
        distributions=_list(obj["distributions"], f"{path}.distributions", _distribution),
    )


def _bucket(data: Any, path: str) -> Bucket:
    obj = _object(data, path, _BUCKET_KEYS, ("selector", "salt", "allocations"))
    return Bucket(
        selector=_strings(obj["selector"], f"{path}.selector"),
        salt=_string(obj["salt"], f"{path}.salt"),
        allocations=_list(obj["allocations"], f"{path}.allocations", _allocation),
    )


def _condition(data: Any, path: str) -> Condition:
    obj = _object(data, path, _CONDITION_KEYS, ("selector", "op", "values"))
    selector = _strings(obj["selector"], f"{path}.selector")
    op = _string(obj["op"], f"{path}.op")
    values = _strings(obj["values"], f"{path}.values")
    try:
        return Condition(selector=selector, op=op, values=values)
    except InvalidFlag as exc:
        raise InvalidFlag(f"{path}.{exc}") from None


def _condition_group(data: Any, path: str) -> tuple[Condition, ...]:
    return _list(data, path, _condition)


def _segment(data: Any, path: str) -> Segment:
    obj = _object(data, path, _SEGMENT_KEYS)
    bucket = obj.get("bucket")
    conditions = obj.get("conditions")
    return Segment(
        bucket=None if bucket is None else _bucket(bucket, f"{path}.bucket"),
        conditions=(
            None
            if conditions is None
            else _list(conditions, f"{path}.conditions", _condition_group)
        ),
        variant=_optional_string(obj.get("variant"), f"{path}.variant"),
        metadata=_metadata(obj.get("metadata"), f"{path}.metadata"),
    )


def _variant(data: Any, path: str) -> Variant:
    obj = _object(data, path, _VARIANT_KEYS)
    return Variant(
        key=_optional_string(obj.get("key"), f"{path}.key"),
        value=obj.get("value"),
        payload=obj.get("payload"),
        metadata=_metadata(obj.get("metadata"), f"{path}.metadata"),
    )


def _variants(data: Any, path: str) -> dict[str, Variant]:
    if not isinstance(data, dict):
        raise InvalidFlag(f"{path} must be an object")
    return {name: _variant(value, f"{path}[{json.dumps(name)}]") for name, value in data.items()}


def parse_flag(data: Any, path: str = "flag") -> Flag:
    """One flag from its JSON object; `path` prefixes error messages."""
    try:
        return _quick_flag(data)
    except Exception:  # noqa: BLE001 - anything unusual is parsed again, step by step
        return _checked_flag(data, path)


def _checked_flag(data: Any, path: str) -> Flag:
    obj = _object(data, path, _FLAG_KEYS, ("key", "variants", "segments"))
    dependencies = obj.get("dependencies")
    return Flag(
        key=_string(obj["key"], f"{path}.key"),
        variants=_variants(obj["variants"], f"{path}.variants"),
        segments=_list(obj["segments"], f"{path}.segments", _segment),
        dependencies=(
            None if dependencies is None else _strings(dependencies, f"{path}.dependencies")
        ),
        metadata=_metadata(obj.get("metadata"), f"{path}.metadata"),
    )


def parse_flags(data: Any) -> list[Flag]:
    """Flags from the JSON array served to local-evaluation SDKs."""
    if not isinstance(data, list):
        raise InvalidFlag("flags must be a list")
    return [parse_flag(item, f"flags[{i}]") for i, item in enumerate(data)]


# -- the quick path -------------------------------------------------------------------
# The same checks as the parsers above, made without building a path for every element (which
# cost more than the model itself): whatever they do not accept, the parsers above parse
# again and name. A served snapshot parses every flag it holds, 10,000 at a restart.


class _Refused(Exception):
    pass


def _quick_object(data: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if type(data) is not dict or not data.keys() <= allowed:
        raise _Refused
    return data


def _quick_strings(value: Any) -> tuple[str, ...]:
    if type(value) is not list:
        raise _Refused
    for item in value:
        if type(item) is not str:
            raise _Refused
    return tuple(value)


def _quick_string(value: Any) -> str:
    if type(value) is not str:
        raise _Refused
    return value


def _quick_metadata(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise _Refused
    return dict(value)


def _quick_range(value: Any) -> tuple[int, int]:
    if type(value) is not list or len(value) != 2 or type(value[0]) is not int or type(value[1]) is not int:
        raise _Refused
    return value[0], value[1]


def _quick_list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise _Refused
    return value


def _quick_bucket(data: Any) -> Bucket:
    obj = _quick_object(data, _BUCKET_KEYS)
    allocations = []
    for item in _quick_list(obj.get("allocations")):
        allocation = _quick_object(item, _ALLOCATION_KEYS)
        distributions = []
        for entry in _quick_list(allocation.get("distributions")):
            distribution = _quick_object(entry, _DISTRIBUTION_KEYS)
            distributions.append(Distribution(_quick_string(distribution.get("variant")),
                                              _quick_range(distribution.get("range"))))
        allocations.append(Allocation(_quick_range(allocation.get("range")), tuple(distributions)))
    return Bucket(_quick_strings(obj.get("selector")), _quick_string(obj.get("salt")), tuple(allocations))


def _quick_condition(data: Any) -> Condition:
    obj = _quick_object(data, _CONDITION_KEYS)
    return Condition(_quick_strings(obj.get("selector")), _quick_string(obj.get("op")),
                     _quick_strings(obj.get("values")))


def _quick_segment(data: Any) -> Segment:
    obj = _quick_object(data, _SEGMENT_KEYS)
    bucket, conditions, variant = obj.get("bucket"), obj.get("conditions"), obj.get("variant")
    return Segment(
        bucket=None if bucket is None else _quick_bucket(bucket),
        conditions=None if conditions is None else tuple(
            tuple(_quick_condition(condition) for condition in _quick_list(group))
            for group in _quick_list(conditions)),
        variant=None if variant is None else _quick_string(variant),
        metadata=_quick_metadata(obj.get("metadata")),
    )


def _quick_variant(data: Any) -> Variant:
    obj = _quick_object(data, _VARIANT_KEYS)
    key = obj.get("key")
    return Variant(key=None if key is None else _quick_string(key), value=obj.get("value"),
                   payload=obj.get("payload"), metadata=_quick_metadata(obj.get("metadata")))


def _quick_flag(data: Any) -> Flag:
    obj = _quick_object(data, _FLAG_KEYS)
    variants, dependencies = obj.get("variants"), obj.get("dependencies")
    if type(variants) is not dict:
        raise _Refused
    return Flag(
        key=_quick_string(obj.get("key")),
        variants={name: _quick_variant(value) for name, value in variants.items()},
        segments=tuple(_quick_segment(segment) for segment in _quick_list(obj.get("segments"))),
        dependencies=None if dependencies is None else _quick_strings(dependencies),
        metadata=_quick_metadata(obj.get("metadata")),
    )


# -- serialising --------------------------------------------------------------------


def _condition_to_dict(condition: Condition) -> dict[str, Any]:
    return {
        "selector": list(condition.selector),
        "op": condition.op,
        "values": list(condition.values),
    }


def _bucket_to_dict(bucket: Bucket) -> dict[str, Any]:
    return {
        "selector": list(bucket.selector),
        "salt": bucket.salt,
        "allocations": [
            {
                "range": list(allocation.range),
                "distributions": [
                    {"variant": d.variant, "range": list(d.range)}
                    for d in allocation.distributions
                ],
            }
            for allocation in bucket.allocations
        ],
    }


def _segment_to_dict(segment: Segment) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if segment.bucket is not None:
        out["bucket"] = _bucket_to_dict(segment.bucket)
    # An empty list would mean "match everyone" to this engine and the Python SDK but
    # "match no one" to the JS and Kotlin engines, so it is never emitted.
    if segment.conditions:
        out["conditions"] = [[_condition_to_dict(c) for c in group] for group in segment.conditions]
    if segment.variant is not None:
        out["variant"] = segment.variant
    if segment.metadata is not None:
        out["metadata"] = dict(segment.metadata)
    return out


def _variant_to_dict(variant: Variant) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if variant.key is not None:
        out["key"] = variant.key
    if variant.value is not None:
        out["value"] = variant.value
    if variant.payload is not None:
        out["payload"] = variant.payload
    if variant.metadata is not None:
        out["metadata"] = dict(variant.metadata)
    return out


def flag_to_dict(flag: Flag) -> dict[str, Any]:
    """The flag as Amplitude's EvaluationFlag JSON object; None-valued keys are omitted."""
    out: dict[str, Any] = {
        "key": flag.key,
        "variants": {name: _variant_to_dict(v) for name, v in flag.variants.items()},
        "segments": [_segment_to_dict(s) for s in flag.segments],
    }
    if flag.dependencies is not None:
        out["dependencies"] = list(flag.dependencies)
    if flag.metadata is not None:
        out["metadata"] = dict(flag.metadata)
    return out


def flags_to_list(flags: Iterable[Flag] | Mapping[str, Flag]) -> list[dict[str, Any]]:
    """Flags as the JSON array served to local-evaluation SDKs."""
    items = flags.values() if isinstance(flags, Mapping) else flags
    return [flag_to_dict(flag) for flag in items]

"""Property filters on events, in the shape of Amplitude's `exposureEvent.filters`.

A filter is `{"subprop_type": "event"|"user", "subprop_key", "subprop_op", "subprop_value": [...]}`;
an event passes a list of filters when it passes every one of them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

from flagyard.errors import Invalid

OPERATORS = frozenset({
    "is", "is not", "contains", "does not contain", "less", "less or equal", "greater",
    "greater or equal", "glob match", "glob does not match",
})
PROPERTY_TYPES = frozenset({"event", "user"})


def check_filters(filters: Any, field_name: str) -> list[dict[str, Any]]:
    """The filters if each is well formed; `Invalid` naming the first fault otherwise."""
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise Invalid(f"{field_name} must be an array of filters", code="invalid_filters")
    for n, item in enumerate(filters):
        where = f"{field_name}[{n}]"
        if not isinstance(item, dict):
            raise Invalid(f"{where} must be an object", code="invalid_filters")
        if item.get("subprop_type", "event") not in PROPERTY_TYPES:
            raise Invalid(f"{where}.subprop_type must be one of event, user", code="invalid_filters")
        if not isinstance(item.get("subprop_key"), str) or not item["subprop_key"]:
            raise Invalid(f"{where}.subprop_key must be a property name", code="invalid_filters")
        if item.get("subprop_op") not in OPERATORS:
            raise Invalid(f"{where}.subprop_op must be one of {', '.join(sorted(OPERATORS))}",
                          code="invalid_filters")
        values = item.get("subprop_value")
        if not isinstance(values, list) or not values:
            raise Invalid(f"{where}.subprop_value must be a non-empty array", code="invalid_filters")
    return filters


def matches(filters: Sequence[Mapping[str, Any]], event_properties: Mapping[str, Any],
            user_properties: Mapping[str, Any]) -> bool:
    for item in filters:
        source = user_properties if item.get("subprop_type") == "user" else event_properties
        if not _matches_one(item["subprop_op"], source.get(item["subprop_key"]), item["subprop_value"]):
            return False
    return True


def user_property(user_properties: Mapping[str, Any], name: str) -> Any:
    """A user property as an event carries it: plainly, or inside a `$set` operation."""
    set_ops = user_properties.get("$set")
    if isinstance(set_ops, Mapping) and name in set_ops:
        return set_ops[name]
    return user_properties.get(name)


def _matches_one(op: str, actual: Any, values: Sequence[Any]) -> bool:
    if op in ("is", "is not"):
        found = actual is not None and str(actual) in {str(v) for v in values}
        return found if op == "is" else not found
    if op in ("contains", "does not contain"):
        found = actual is not None and any(str(v) in str(actual) for v in values)
        return found if op == "contains" else not found
    if op in ("glob match", "glob does not match"):
        found = actual is not None and any(fnmatch.fnmatchcase(str(actual), str(v)) for v in values)
        return found if op == "glob match" else not found
    number = _number(actual)
    bound = _number(values[0])
    if number is None or bound is None:
        return False
    if op == "less":
        return number < bound
    if op == "less or equal":
        return number <= bound
    if op == "greater":
        return number > bound
    return number >= bound  # greater or equal


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None

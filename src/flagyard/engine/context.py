"""Converting an SDK-shaped user into the evaluation context.

`{"user": {every non-null field except the group fields}, "groups": {type: {...}}}`:
each group type keeps only its first name, with that group's properties and cohort
ids when present. `user` is left out when empty; `groups` appears whenever the
user carries a `groups` mapping, even an empty one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_GROUP_FIELDS = frozenset({"groups", "group_properties", "group_cohort_ids"})


def _lookup(table: Any, group_type: str, group_name: Any) -> Any:
    """`table[group_type][group_name]`, or None when any level is missing or empty."""
    if not table or not isinstance(table, Mapping):
        return None
    by_name = table.get(group_type)
    if not by_name or not isinstance(by_name, Mapping):
        return None
    try:
        return by_name.get(group_name)
    except TypeError:  # unhashable name
        return None


def user_to_context(user: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in user.items() if v is not None and k not in _GROUP_FIELDS}
    context: dict[str, Any] = {"user": fields} if fields else {}

    groups = user.get("groups")
    if groups is None:
        return context
    group_properties = user.get("group_properties")
    group_cohort_ids = user.get("group_cohort_ids")
    by_type: dict[str, dict[str, Any]] = {}
    if isinstance(groups, Mapping):
        for group_type, names in groups.items():
            if not isinstance(names, list) or not names:
                continue
            name = names[0]
            entry: dict[str, Any] = {"group_name": name}
            properties = _lookup(group_properties, group_type, name)
            if properties:
                entry["group_properties"] = properties
            cohort_ids = _lookup(group_cohort_ids, group_type, name)
            if cohort_ids:
                entry["cohort_ids"] = cohort_ids
            by_type[group_type] = entry
    context["groups"] = by_type
    return context

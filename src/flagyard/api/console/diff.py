"""A readable difference between two versions of a flag: one row per changed setting."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Bookkeeping that changes with every version and says nothing about the configuration.
IGNORED = frozenset({"version", "lastModifiedAt", "lastModifiedBy"})


@dataclass(frozen=True)
class Change:
    path: str
    before: str | None  # None: absent before
    after: str | None  # None: absent after


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    old = dict(_flatten({k: v for k, v in before.items() if k not in IGNORED}))
    new = dict(_flatten({k: v for k, v in after.items() if k not in IGNORED}))
    changes = []
    for path in list(old) + [p for p in new if p not in old]:
        a, b = old.get(path), new.get(path)
        if a != b:
            changes.append(Change(path, a, b))
    return changes


def _flatten(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Leaves as (path, JSON text). Variants and segments are keyed by key/name, so a change
    inside one reads as `variants[blue].payload`, not as an index shift."""
    if isinstance(value, dict) and value and not path.endswith("payload"):
        out = []
        for key, item in value.items():
            out += _flatten(item, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list) and value and all(isinstance(i, dict) for i in value) \
            and path in ("variants", "targetSegments"):
        out = []
        for index, item in enumerate(value):
            label = item.get("key") or item.get("name") or str(index)
            out += _flatten(item, f"{path}[{label}]")
        return out
    return [(path, json.dumps(value, ensure_ascii=False, sort_keys=False))]

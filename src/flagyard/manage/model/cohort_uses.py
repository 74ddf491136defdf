"""Which flags and experiments target a cohort, and how: a segment condition on `cohort_ids`
(the only property that names cohorts), or a variant's cohort inclusions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flagyard.manage.model.flags import Flag, Kind

COHORT_PROPERTY = "cohort_ids"


@dataclass(frozen=True)
class CohortUse:
    flag_id: int
    kind: Kind
    key: str
    name: str
    deleted: bool
    ways: tuple[str, ...]  # in words: 'segment "Paying" (set contains any)', 'included in variant on'


def cohort_uses(flags: Iterable[Flag], included: Mapping[int, list[str]]) -> dict[str, list[CohortUse]]:
    """By cohort id, the flags that name it, in the order given. `included` holds each
    variant's cohort inclusions by variant id."""
    uses: dict[str, list[CohortUse]] = {}
    for flag in flags:
        ways: dict[str, list[str]] = {}
        for index, segment in enumerate(flag.target_segments, start=1):
            label = f'segment "{segment["name"]}"' if segment.get("name") else f"segment {index}"
            for condition in segment.get("conditions") or ():
                if condition.get("prop") == COHORT_PROPERTY:
                    for cohort_id in condition.get("values") or ():
                        _note(ways, str(cohort_id), f"{label} ({condition.get('op')})")
        for variant in flag.variants:
            for cohort_id in included.get(variant.id, ()):
                _note(ways, cohort_id, f"included in variant {variant.key}")
        for cohort_id, found in ways.items():
            uses.setdefault(cohort_id, []).append(
                CohortUse(flag.id, flag.kind, flag.key, flag.name, flag.deleted, tuple(found)))
    return uses


def _note(ways: dict[str, list[str]], cohort_id: str, way: str) -> None:
    listed = ways.setdefault(cohort_id, [])
    if way not in listed:
        listed.append(way)

"""Per-flag evaluation plan: what each segment tests and which result it yields.

Results are prepared per (segment, variant) with the metadata already merged
(flag, then segment, then variant; later keys win), so evaluation only copies them.

The model depends on this module, never the reverse: a plan is built from the parts of a
flag, described here by the few attributes it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from .bucketing import Picker
from .conditions import Matcher


class PlannedVariant(Protocol):
    @property
    def key(self) -> str | None: ...
    @property
    def value(self) -> Any: ...
    @property
    def payload(self) -> Any: ...
    @property
    def metadata(self) -> dict[str, Any] | None: ...


class PlannedCondition(Protocol):
    @property
    def matcher(self) -> Matcher: ...


class PlannedBucket(Protocol):
    @property
    def picker(self) -> Picker: ...


class PlannedSegment(Protocol):
    @property
    def bucket(self) -> PlannedBucket | None: ...
    @property
    def conditions(self) -> Sequence[Sequence[PlannedCondition]] | None: ...
    @property
    def variant(self) -> str | None: ...
    @property
    def metadata(self) -> dict[str, Any] | None: ...

Outcome = tuple["str | None", Any, Any, dict[str, Any]]
"""(variant key, value, payload, merged metadata)."""


class SegmentPlan(NamedTuple):
    # None: the segment matches everyone. Else OR over groups, AND within a group.
    groups: tuple[tuple[Matcher, ...], ...] | None
    # None: no bucket, the segment's own variant applies.
    picker: Picker | None
    # Variant key -> outcome, for every variant of the flag.
    outcomes: dict[str, Outcome]
    # Outcome of the segment's own variant (None when it names no known variant).
    fallback: Outcome | None


def build_plan(
    metadata: dict[str, Any] | None,
    variants: Mapping[str, PlannedVariant],
    segments: Sequence[PlannedSegment],
) -> tuple[SegmentPlan, ...]:
    plans = []
    for segment in segments:
        base: dict[str, Any] = {}
        if metadata:
            base.update(metadata)
        if segment.metadata:
            base.update(segment.metadata)
        outcomes: dict[str, Outcome] = {}
        for name, variant in variants.items():
            merged = dict(base)
            if variant.metadata:
                merged.update(variant.metadata)
            outcomes[name] = (variant.key, variant.value, variant.payload, merged)
        groups = None
        if segment.conditions:
            groups = tuple(tuple(c.matcher for c in group) for group in segment.conditions)
        picker = segment.bucket.picker if segment.bucket is not None else None
        fallback = outcomes.get(segment.variant) if segment.variant is not None else None
        plans.append(SegmentPlan(groups, picker, outcomes, fallback))
    return tuple(plans)

"""The evaluation model, mirroring Amplitude's EvaluationFlag and its parts.

Instances are immutable. On construction each condition, bucket and flag compiles
the predicates and lookup tables that evaluation uses, so building a model is the
expensive step and evaluating it is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .bucketing import Picker, compile_bucket
from .conditions import Matcher, compile_condition
from .plan import SegmentPlan, build_plan


@dataclass(frozen=True, slots=True)
class Condition:
    selector: tuple[str, ...]
    op: str
    values: tuple[str, ...]
    matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", compile_condition(self.selector, self.op, self.values))


@dataclass(frozen=True, slots=True)
class Distribution:
    variant: str
    range: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Allocation:
    range: tuple[int, int]
    distributions: tuple[Distribution, ...]


@dataclass(frozen=True, slots=True)
class Bucket:
    selector: tuple[str, ...]
    salt: str
    allocations: tuple[Allocation, ...]
    picker: Picker = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        specs = [
            (a.range, [(d.variant, d.range) for d in a.distributions]) for a in self.allocations
        ]
        object.__setattr__(self, "picker", compile_bucket(self.selector, self.salt, specs))


@dataclass(frozen=True, slots=True)
class Segment:
    bucket: Bucket | None = None
    # OR over the outer tuple, AND within each inner tuple; None or empty matches everyone.
    conditions: tuple[tuple[Condition, ...], ...] | None = None
    variant: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    key: str | None = None
    value: Any = None
    payload: Any = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Flag:
    key: str
    variants: dict[str, Variant]
    segments: tuple[Segment, ...]
    dependencies: tuple[str, ...] | None = None
    metadata: dict[str, Any] | None = None
    plan: tuple[SegmentPlan, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", build_plan(self.metadata, self.variants, self.segments))

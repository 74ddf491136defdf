"""Assigning a variant by hashing the bucketing value.

`h = murmur3_x86_32(f"{salt}/{value}")`; the allocation test uses `h % 100`
(percent) and the distribution test `h // 100` (0..42949672). Ranges are
half-open `[start, end)`; the first matching allocation and distribution win.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .coerce import coerce_string
from .murmur3 import hash32, hash32_raw
from .selectors import compile_selector

Range = tuple[int, int]
DistributionSpec = tuple[str, Range]
AllocationSpec = tuple[Range, Sequence[DistributionSpec]]
Picker = Callable[[Any], "str | None"]
"""Returns the bucketed variant key, or None for "use the segment's variant"."""

DISTRIBUTION_MAX = 42949673
"""Exclusive end of the full distribution range: floor((2**32 - 1) / 100) + 1."""


def bucket_values(salt: str, value: str) -> tuple[int, int]:
    """(allocation value, distribution value) for a bucketing value."""
    h = hash32(f"{salt}/{value}")
    return h % 100, h // 100


def compile_bucket(
    selector: Sequence[str], salt: str, allocations: Sequence[AllocationSpec]
) -> Picker:
    select = compile_selector(selector)
    prefix = salt + "/"
    table = tuple(
        (start, end, tuple((d_start, d_end, variant) for variant, (d_start, d_end) in dists))
        for (start, end), dists in allocations
    )

    def pick(target: Any) -> str | None:
        value = select(target)
        if value is None:
            return None
        text = value if type(value) is str else coerce_string(value)
        if not text:
            return None
        h = hash32_raw(prefix + text, 0, False)
        allocation = h % 100
        distribution = h // 100
        for start, end, dists in table:
            if start <= allocation < end:
                for d_start, d_end, variant in dists:
                    if d_start <= distribution < d_end:
                        return variant
        return None

    return pick

"""Corrections for reading many comparisons at once.

An experiment with several treatments and several metrics makes one comparison per
(treatment × metric) pair; at α = 0.05 each, twenty pairs with no true effect show about one
"winner" by chance. The family is every such pair among the primary and secondary metrics
(guardrails are judged apart), and the correction adjusts each p-value for the family's size m:

- bonferroni: min(1, m·p); bounds the chance of any false positive (family-wise error rate).
  Amplitude's default.
- holm: Holm's step-down form of Bonferroni; the same guarantee, never a larger p-value.
- benjamini-hochberg: bounds the expected share of false positives among the "significant"
  ones (false discovery rate); the most lenient, for many exploratory metrics.
- none: the raw p-values.

Adjusted p-values come back in the order given, so they sit beside their raw ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

Correction = Literal["none", "bonferroni", "holm", "benjamini-hochberg"]
CORRECTIONS: tuple[Correction, ...] = ("none", "bonferroni", "holm", "benjamini-hochberg")


def adjusted_p_values(p_values: Sequence[float], correction: Correction) -> list[float]:
    """Each p-value adjusted for the whole family, in the order given."""
    for p in p_values:
        if not (0.0 <= p <= 1.0):  # also refuses NaN, which would sort anywhere
            raise ValueError(f"a p-value must lie in [0, 1], got {p}")
    if correction == "none":
        return list(p_values)
    if correction == "bonferroni":
        return [min(1.0, len(p_values) * p) for p in p_values]
    if correction == "holm":
        return _holm(p_values)
    if correction == "benjamini-hochberg":
        return _benjamini_hochberg(p_values)
    raise ValueError(f"unknown correction {correction!r}; expected one of {CORRECTIONS}")


def interval_alpha(alpha: float, comparisons: int, correction: Correction) -> float:
    """The α each comparison's interval is drawn at: α/m under Bonferroni, α otherwise.

    Bonferroni is the one correction with a fixed per-comparison level, so its intervals
    (at 1 − α/m) agree with its adjusted p-values and hold together for the whole family.
    Holm and Benjamini–Hochberg decide step by step from the ranks of all p-values; no single
    level matches their verdicts, so their intervals stay at α and must be labelled unadjusted.
    """
    if comparisons < 1:
        raise ValueError("a family has at least one comparison")
    return alpha / comparisons if correction == "bonferroni" else alpha


def _ranks_by_p(p_values: Sequence[float]) -> list[int]:
    # Stable, so ties keep their given order; Holm and BH give tied p-values equal results anyway.
    return sorted(range(len(p_values)), key=lambda index: p_values[index])


def _holm(p_values: Sequence[float]) -> list[float]:
    """Step down from the smallest p: the k-th smallest (from 0) is multiplied by m − k.

    The running maximum keeps the adjusted values in the raw values' order, since a hypothesis
    can only be rejected after every smaller p-value was.
    """
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(_ranks_by_p(p_values)):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Step up from the largest p: the k-th smallest (from 1) is multiplied by m / k.

    The running minimum from the top keeps the order: a p-value is significant whenever a
    larger one is.
    """
    m = len(p_values)
    adjusted = [0.0] * m
    running = math.inf
    ranked = _ranks_by_p(p_values)
    for rank in range(m, 0, -1):
        index = ranked[rank - 1]
        # m / rank first: it is 1.0 exactly for the largest p, which then stays itself.
        running = min(running, min(1.0, p_values[index] * (m / rank)))
        adjusted[index] = running
    return adjusted

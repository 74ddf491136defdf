"""How much data a comparison needs: before any figure, and to find the effect looked for.

Minimum samples (Amplitude's rule): below them a p-value or an interval is mostly noise of the
approximations (a normal difference of means, a plug-in variance), so the result says what is
missing instead. A conversion metric needs 25 conversions and 100 exposed users in each
compared variant; a mean or count metric needs 100 exposed users in each.

Duration: the users per variant for a two-sided test at α to find an absolute difference δ with
power 1 − β, n = (z_{1−α/2} + z_{1−β})² (σ²_c + σ²_t) / δ², and the days the experiment's recent
exposure rate takes to bring them. It is the fixed-horizon figure; the sequential test, valid at
every look, needs more users to reach the same power at its final look.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from flagyard.measure.model.metrics import MetricKind
from flagyard.measure.statistics import Sample

MIN_EXPOSURES = 100
MIN_CONVERSIONS = 25


@dataclass(frozen=True)
class UnmetThreshold:
    """The first minimum a variant has not reached yet."""

    variant: str
    quantity: str  # "exposures" or "conversions"
    observed: int
    required: int

    @property
    def reason(self) -> str:
        return (f"{self.variant} has {self.observed} of the {self.required} "
                f"{self.quantity} needed before results are shown")


def unmet_threshold(kind: MetricKind, samples: Mapping[str, Sample]) -> UnmetThreshold | None:
    """The first variant, in the order given, short of a minimum; None when all are met.

    `samples` holds the compared variants (control and the treatment). Exposures are checked
    before conversions: a variant short of users is short of conversions for that reason.
    """
    for variant, sample in samples.items():
        if sample.n < MIN_EXPOSURES:
            return UnmetThreshold(variant, "exposures", sample.n, MIN_EXPOSURES)
    if kind is MetricKind.CONVERSION:
        for variant, sample in samples.items():
            # A conversion metric's value is 0 or 1 per user: its total is the conversions.
            conversions = round(sample.total)
            if conversions < MIN_CONVERSIONS:
                return UnmetThreshold(variant, "conversions", conversions, MIN_CONVERSIONS)
    return None


def conversion_variance(rate: float) -> float:
    """The per-user variance of a 0/1 metric converting at `rate`: p(1 − p)."""
    if not 0 <= rate <= 1:
        raise ValueError("a conversion rate lies in [0, 1]")
    return rate * (1 - rate)


def users_per_variant(effect: float, control_variance: float, treatment_variance: float,
                      alpha: float = 0.05, power: float = 0.8) -> float:
    """Users each variant needs to detect an absolute difference `effect` (unrounded).

    For a conversion metric with baseline p, the variances are conversion_variance(p) and
    conversion_variance(p + effect); for a mean or count metric, the metric's variance twice.
    """
    if effect == 0 or not math.isfinite(effect):
        raise ValueError("the minimum detectable effect must be a non-zero number")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("alpha and power must lie strictly between 0 and 1")
    if control_variance < 0 or treatment_variance < 0 or control_variance + treatment_variance == 0:
        raise ValueError("the variances must be non-negative and not both zero")
    from scipy import stats  # imported on first use: the import takes seconds

    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    return z * z * (control_variance + treatment_variance) / (effect * effect)


@dataclass(frozen=True)
class DurationEstimate:
    users_per_variant: int
    total_users: int
    days: float | None  # None without a recent exposure rate to divide by


def estimate_duration(users_needed_per_variant: float, variants: int,
                      daily_exposures: float | None) -> DurationEstimate:
    """Whole users per variant, all variants' users, and the days at the daily exposure rate.

    Assumes an even split, as the sample-size formula does; `variants` counts control too.
    """
    if variants < 2:
        raise ValueError("a comparison needs at least two variants")
    per_variant = math.ceil(users_needed_per_variant)
    total = per_variant * variants
    days = total / daily_exposures if daily_exposures and daily_exposures > 0 else None
    return DurationEstimate(per_variant, total, days)

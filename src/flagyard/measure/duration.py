"""How long an experiment must run: users per variant for a minimum detectable effect, and the
days that takes at the experiment's recent exposure rate (GET …/duration).

The baseline is the control's metric as it stands (its mean and, for a mean or count metric,
its variance); the sample size is the two-sided z-test's (`users_per_variant`), the figure
statsmodels' power solver gives. This is a fixed-horizon plan: a sequential analysis
read as it goes needs more users for the same power (ADR 0081).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from flagyard.errors import Invalid
from flagyard.measure.model.metrics import MetricKind
from flagyard.measure.model.sums import HOUR_MS
from flagyard.measure.statistics import Sample

RECENT_MS = 7 * 86_400_000  # the exposure rate is read over the last week
DAY_MS = 86_400_000
MOST_USERS = 1e12  # beyond this an estimate means nothing (and must not overflow the answer)


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


@dataclass(frozen=True)
class DurationPlan:
    mde: float
    relative: bool  # mde is a share of the baseline (0.05 = 5 %) rather than an absolute change
    power: float = 0.8
    confidence_level: float = 0.95

    def checked(self) -> DurationPlan:
        if not math.isfinite(self.mde) or self.mde <= 0:
            raise Invalid("mde must be a positive number (the smallest change worth detecting)",
                          code="invalid_mde")
        if not 0.5 <= self.power < 1:
            raise Invalid("power must be at least 0.5 and below 1", code="invalid_power")
        if not 0.5 < self.confidence_level < 1:
            raise Invalid("confidenceLevel must lie between 0.5 and 1", code="invalid_confidence_level")
        return self


@dataclass(frozen=True)
class Duration:
    baseline: float | None
    standard_deviation: float | None
    absolute_effect: float | None
    estimate: DurationEstimate | None
    daily_exposures: float | None
    exposed: int
    reason: str | None  # why there is no estimate yet


def plan_duration(plan: DurationPlan, kind: MetricKind, control: Sample, variants: int,
                  exposed: int, daily_exposures: float | None) -> Duration:
    """The estimate for a metric whose control stands at `control` today."""
    def without(reason: str, baseline: float | None = None, sd: float | None = None) -> Duration:
        return Duration(baseline, sd, None, None, daily_exposures, exposed, reason)

    if variants < 2:
        return without("the experiment needs a control and at least one treatment")
    if control.n < 2:
        return without("the control has no exposed users yet: the baseline is unknown")
    baseline = control.mean
    effect = plan.mde * abs(baseline) if plan.relative else plan.mde
    if kind is MetricKind.CONVERSION:
        variance = conversion_variance(baseline)
        treated = baseline + effect if baseline + effect <= 1 else baseline - effect
        if not 0 <= treated <= 1:
            return without("no conversion rate lies that far from the baseline", baseline,
                           math.sqrt(variance))
        treatment_variance = conversion_variance(treated)
    else:
        variance = treatment_variance = control.variance
    sd = math.sqrt(variance)
    if effect == 0:
        return without("a relative effect of a zero baseline is zero: give an absolute mde",
                       baseline, sd)
    if variance + treatment_variance == 0:
        return without("the control's metric does not vary yet", baseline, sd)
    try:
        needed = users_per_variant(effect, variance, treatment_variance,
                                   alpha=1 - plan.confidence_level, power=plan.power)
    except ZeroDivisionError:  # an effect so small its square is 0.0
        needed = math.inf
    if not needed < MOST_USERS:
        return without("the effect is too small to detect with any realistic number of users",
                       baseline, sd)
    estimate = estimate_duration(needed, variants, daily_exposures)
    return Duration(baseline, sd, effect, estimate, daily_exposures, exposed, None)


def recent_daily_exposures(series: Iterable[tuple[int, int]], now_ms: int) -> float | None:
    """New exposed users per day over the last week, or since the first exposure when that is
    more recent (at least an hour, so a first burst does not read as a huge rate).
    `series` holds (hour start ms, users exposed in that hour)."""
    points = sorted(series)
    if not points:
        return None
    since = max(now_ms - RECENT_MS, points[0][0])
    users = sum(n for start, n in points if start >= since - since % HOUR_MS)
    span = max(now_ms - since, HOUR_MS)
    return users * DAY_MS / span if users else None

"""An experiment's comparisons, read the way its analysis settings say: every treatment against
control on every metric, with the chosen test, the correction over the family, the minimum
samples and the guardrails' verdict. Pure: sums in, figures out.

- The test: `sequential` (mSPRT, sequential.py; valid at every look) or `ttest` (Welch, fixed
  horizon, statistics.py; valid when read once).
- The family is every (treatment × metric) pair among primary and secondary metrics (plus a metric
  asked for that is not stored: reading one more metric is one more comparison). Its p-values are
  adjusted together; `significant` follows the adjusted p-value; a pair short of its minimum
  samples counts in the family with p = 1.
- Guardrails are judged apart, at the confidence level without correction: `harm` is false once
  the interval's harmful end is within the margin (non-inferior), true once the whole interval
  lies on the harmful side of zero, and null until one of the two is shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from flagyard.measure.cuped import adjust
from flagyard.measure.model.analysis import AnalysisSettings
from flagyard.measure.model.metrics import Direction, Metric, MetricKind, Role
from flagyard.measure.multiple_testing import adjusted_p_values, interval_alpha
from flagyard.measure.sequential import mixing_variance
from flagyard.measure.statistics import Sample, SampleSeries, compare
from flagyard.measure.thresholds import (
    MIN_CONVERSIONS,
    MIN_EXPOSURES,
    UnmetThreshold,
    unmet_threshold,
)


@dataclass(frozen=True)
class Looks:
    """Control's and a treatment's cumulative sums at every look, oldest first; the last is now."""

    control: SampleSeries
    treatment: SampleSeries

    def __len__(self) -> int:
        return len(self.control)

    def __getitem__(self, index: int) -> tuple[Sample, Sample]:
        return self.control.at(index), self.treatment.at(index)

    @staticmethod
    def of(looks: Sequence[tuple[Sample, Sample]]) -> Looks:
        return Looks(SampleSeries.of([c for c, _ in looks]), SampleSeries.of([t for _, t in looks]))


@dataclass(frozen=True)
class Pair:
    """One comparison to make: a treatment against control on a metric."""

    metric: Metric
    variant: str
    looks: Looks
    in_family: bool  # a primary or secondary metric (or one asked for), not a guardrail
    # CUPED's θ at each look, pooled over every variant (cuped.pooled_theta); None: no CUPED
    thetas: np.ndarray | None = None


@dataclass(frozen=True)
class Verdict:
    metric: Metric
    variant: str
    difference: float | None = None
    relative_difference: float | None = None
    std_error: float | None = None
    p_value: float | None = None
    adjusted_p_value: float | None = None
    interval: tuple[float, float] | None = None
    interval_level: float | None = None  # the confidence the interval is drawn at
    significant: bool | None = None
    better: bool | None = None  # significant and in the metric's good direction (False: worse)
    harm: bool | None = None  # guardrails only
    chance_to_beat_control: float | None = None
    unmet: UnmetThreshold | None = None
    tau_squared: float | None = None  # the sequential mixture's variance, once fixed
    theta: float | None = None  # CUPED's, when applied
    variance_reduction: float | None = None  # the share of the difference's variance CUPED removed


@dataclass(frozen=True)
class Analysis:
    verdicts: list[Verdict]
    family_size: int


@dataclass(frozen=True)
class _Figures:
    difference: float
    std_error: float
    p_value: float
    interval: tuple[float, float]
    tau_squared: float | None
    estimate: _Estimate


@dataclass(frozen=True)
class _Estimate:
    """A look's difference and its variance: of the plain means, or adjusted by CUPED."""

    difference: float
    variance: float
    theta: float | None = None
    variance_reduction: float | None = None


def _estimate(pair: Pair, index: int) -> _Estimate | None:
    control, treatment = pair.looks[index]
    if pair.thetas is not None:
        adjusted = adjust(control, treatment, float(pair.thetas[index]))
        if adjusted is None:
            return None
        return _Estimate(adjusted.difference, adjusted.variance, adjusted.theta, adjusted.variance_reduction)
    if control.n < 2 or treatment.n < 2:
        return None
    return _Estimate(treatment.mean - control.mean, treatment.variance / treatment.n + control.variance / control.n)


def analyse(settings: AnalysisSettings, control_key: str, pairs: Sequence[Pair]) -> Analysis:
    """The comparisons as they stand now (each pair's last look)."""
    last = len(pairs[0].looks) - 1 if pairs else 0
    return analyse_over_time(settings, control_key, pairs, [last])[0]


def analyse_over_time(settings: AnalysisSettings, control_key: str, pairs: Sequence[Pair],
                      points: Sequence[int]) -> list[Analysis]:
    """The comparisons as they stood at each look index in `points` (the pairs' looks are
    aligned: index i is the same moment in all of them). Each point is what a reader saw then:
    the running sequential figures up to it, and the family corrected at it."""
    family_size = sum(1 for pair in pairs if pair.in_family)
    family_alpha = interval_alpha(settings.alpha, max(1, family_size), settings.multiple_testing)
    alphas = [family_alpha if pair.in_family else settings.alpha for pair in pairs]
    series = [_series(settings, pair, alpha, points) for pair, alpha in zip(pairs, alphas, strict=True)]
    analyses = []
    for point in points:
        unmet = [unmet_threshold(pair.metric.kind, {control_key: pair.looks[point][0],
                                                    pair.variant: pair.looks[point][1]})
                 for pair in pairs]
        found = [None if unmet[i] else series[i].get(point) for i in range(len(pairs))]
        raw_family = [_p(found[i]) for i, pair in enumerate(pairs) if pair.in_family]
        adjusted = iter(adjusted_p_values(raw_family, settings.multiple_testing) if raw_family else [])
        verdicts = []
        for i, pair in enumerate(pairs):
            adjusted_p = next(adjusted) if pair.in_family else None
            figures = found[i]
            if figures is None:
                verdicts.append(Verdict(pair.metric, pair.variant, unmet=unmet[i]))
                continue
            verdicts.append(_verdict(settings, pair, pair.looks[point][0], figures, adjusted_p, alphas[i]))
        analyses.append(Analysis(verdicts, family_size))
    return analyses


def _verdict(settings: AnalysisSettings, pair: Pair, control: Sample, found: _Figures,
             adjusted_p: float | None, alpha: float) -> Verdict:
    decisive_p = adjusted_p if pair.in_family else found.p_value
    significant = decisive_p is not None and bool(decisive_p < settings.alpha)
    increase = pair.metric.direction is Direction.INCREASE
    good = found.difference > 0 if increase else found.difference < 0
    guardrail = pair.metric.role is Role.GUARDRAIL
    return Verdict(
        pair.metric, pair.variant,
        difference=found.difference,
        relative_difference=found.difference / control.mean if control.mean != 0 else None,
        std_error=found.std_error, p_value=found.p_value, adjusted_p_value=adjusted_p,
        interval=found.interval, interval_level=1 - alpha,
        significant=significant, better=bool(good) if significant else None,
        harm=_harm(pair.metric, found.interval, control.mean) if guardrail else None,
        chance_to_beat_control=_chance(found, pair.metric.direction),
        tau_squared=found.tau_squared,
        theta=found.estimate.theta, variance_reduction=found.estimate.variance_reduction,
    )


def _p(found: _Figures | None) -> float:
    return 1.0 if found is None else found.p_value


def _series(settings: AnalysisSettings, pair: Pair, alpha: float,
            points: Sequence[int]) -> dict[int, _Figures]:
    """The pair's figures at each of `points` where there are any."""
    if settings.test_type == "ttest":  # each look on its own: a fixed-horizon test has no memory
        fixed = {point: _fixed_horizon(pair, point, alpha) for point in points}
        return {point: figures for point, figures in fixed.items() if figures is not None}
    return _sequential(settings, pair, alpha, points)


def _sequential(settings: AnalysisSettings, pair: Pair, alpha: float, points: Sequence[int]) -> dict[int, _Figures]:
    """The mSPRT's running figures at `points`, from every look since τ was fixed.

    Each look's estimate, likelihood ratio and interval are computed for all looks at once
    (arrays); only the running minimum and intersection walk the looks one by one."""
    start, tau_squared = _mixture(settings, pair)
    last = max(points, default=-1)
    if tau_squared is None or start > last:
        return {}
    difference, variance = _estimates(pair)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = variance + tau_squared
        log_ratio = 0.5 * np.log(variance / total) + tau_squared * difference * difference / (2 * variance * total)
        p_values = np.where(log_ratio <= 0, 1.0, np.exp(-log_ratio))
        half = np.sqrt(2 * variance * total / tau_squared * (0.5 * np.log(total / variance) - math.log(alpha)))
    exact = variance == 0  # no spread at all: the difference is exact (as sequential_estimate says)
    p_values = np.where(exact, np.where(difference == 0, 1.0, 0.0), p_values)
    half = np.where(exact, 0.0, half)
    valid = np.isfinite(difference) & np.isfinite(variance)
    wanted = set(points)
    found: dict[int, _Figures] = {}
    running_p, low, high = math.inf, -math.inf, math.inf
    for index, ok, d, p, h, v in zip(range(start, last + 1), valid[start:last + 1].tolist(),
                                     difference[start:last + 1].tolist(), p_values[start:last + 1].tolist(),
                                     half[start:last + 1].tolist(), variance[start:last + 1].tolist(),
                                     strict=True):
        if not ok:
            continue
        running_p = min(running_p, p)
        low, high = max(low, d - h), min(high, d + h)
        if low > high:  # disjoint: the newest look, on the most data, is the better interval
            low, high = d - h, d + h
        if index in wanted:
            found[index] = _Figures(d, math.sqrt(v), running_p, (low, high), tau_squared,
                                    _estimate(pair, index) or _Estimate(d, v))
    return found


def _estimates(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Every look's difference and its variance (CUPED's when θ is given); NaN where a side
    has fewer than two users. The same arithmetic as statistics.Sample and cuped.adjust."""
    c, t = pair.looks.control, pair.looks.treatment
    with np.errstate(divide="ignore", invalid="ignore"):
        valid = (c.n >= 2) & (t.n >= 2)
        var_c = np.maximum(0.0, (c.squares - c.total * c.total / c.n) / (c.n - 1))
        var_t = np.maximum(0.0, (t.squares - t.total * t.total / t.n) / (t.n - 1))
        difference = t.total / t.n - c.total / c.n
        variance = var_t / t.n + var_c / c.n
        if pair.thetas is not None and c.covariate is not None and t.covariate is not None:
            theta = pair.thetas
            parts = []
            for side in (c, t):
                x, xx, xy = side.covariate  # type: ignore[misc]
                var_y = (side.squares - side.total * side.total / side.n) / (side.n - 1)
                var_x = (xx - x * x / side.n) / (side.n - 1)
                cov = (xy - x * side.total / side.n) / (side.n - 1)
                parts.append((side.total / side.n, x / side.n, (var_y - 2 * theta * cov + theta * theta * var_x) / side.n))
            (mean_yc, mean_xc, part_c), (mean_yt, mean_xt, part_t) = parts
            difference = (mean_yt - mean_xt * theta) - (mean_yc - mean_xc * theta)
            variance = np.maximum(0.0, part_c + part_t)
    return np.where(valid, difference, np.nan), np.where(valid, variance, np.nan)


def _fixed_horizon(pair: Pair, index: int, alpha: float) -> _Figures | None:
    """Welch's t-test at one look; with CUPED, the z-test on the adjusted difference (at the
    minimum samples, 100 users a side, t and z differ in the third decimal)."""
    control, treatment = pair.looks[index]
    if pair.thetas is None:
        comparison = compare(control, treatment, 1 - alpha)
        if comparison is None:
            return None
        estimate = _Estimate(comparison.difference, comparison.std_error ** 2)
        return _Figures(comparison.difference, comparison.std_error, comparison.p_value,
                        comparison.interval, None, estimate)
    found = _estimate(pair, index)
    if found is None:
        return None
    std_error = math.sqrt(found.variance)
    if std_error == 0:
        exact = found.difference
        return _Figures(exact, 0.0, 1.0 if exact == 0 else 0.0, (exact, exact), None, found)
    from scipy import stats  # imported on first use: the import takes seconds

    p_value = float(2 * stats.norm.sf(abs(found.difference) / std_error))
    half = float(stats.norm.ppf(1 - alpha / 2)) * std_error
    return _Figures(found.difference, std_error, p_value, (found.difference - half, found.difference + half),
                    None, found)


def _mixture(settings: AnalysisSettings, pair: Pair) -> tuple[int, float | None]:
    """The first look the sequential test uses and its mixing variance, fixed there.

    τ = the settings' relative effect × control's mean at the first look where both variants
    have their minimum samples and control's mean is not zero (see ADR 0081). That look depends
    only on data up to it, so later data cannot move τ; the test runs from that look on.
    """
    c, t = pair.looks.control, pair.looks.treatment
    with np.errstate(divide="ignore", invalid="ignore"):
        control_mean = np.where(c.n > 0, c.total / c.n, 0.0)
    ready = (c.n >= MIN_EXPOSURES) & (t.n >= MIN_EXPOSURES) & (control_mean != 0)
    if pair.metric.kind is MetricKind.CONVERSION:
        ready &= (np.round(c.total) >= MIN_CONVERSIONS) & (np.round(t.total) >= MIN_CONVERSIONS)
    first = np.flatnonzero(ready)
    if not len(first):
        return len(pair.looks), None
    index = int(first[0])
    return index, mixing_variance(abs(float(control_mean[index])), settings.sequential_effect)


def _harm(metric: Metric, interval: tuple[float, float], control_mean: float) -> bool | None:
    """Non-inferiority against the margin (a share of control's value), in the harmful direction."""
    margin = (metric.non_inferiority_margin or 0.0) * abs(control_mean)
    low, high = interval
    if metric.direction is Direction.DECREASE:  # harm is an increase
        low, high = -high, -low
    if low > -margin:
        return False
    if high < 0:
        return True
    return None


def _chance(found: _Figures, direction: Direction) -> float | None:
    """The normal approximation's chance that the treatment is better than control."""
    if found.std_error == 0:
        return 0.5 if found.difference == 0 else float((found.difference > 0) == (direction is Direction.INCREASE))
    from scipy import stats  # imported on first use: the import takes seconds

    z = found.difference / found.std_error
    return float(stats.norm.cdf(z if direction is Direction.INCREASE else -z))


def pairs_for(metrics: Sequence[tuple[Metric, bool]], control_key: str, treatments: Sequence[str],
              looks: Mapping[tuple[int, str], Looks],
              thetas: Sequence[np.ndarray] | None = None) -> list[Pair]:
    """Every (metric × treatment) pair in order; `metrics` holds each metric and whether it is in
    the family; `looks` is keyed by (metric position, treatment); `thetas`, with CUPED, holds
    each metric's θ per look."""
    return [Pair(metric, variant, looks[(position, variant)], in_family,
                 thetas[position] if thetas is not None else None)
            for position, (metric, in_family) in enumerate(metrics) for variant in treatments
            if variant != control_key]

"""Sequential testing: results that stay valid however often they are looked at.

A fixed-horizon test (statistics.compare) promises a 5 % false-positive rate only when read
once, at a sample size chosen in advance; read after every batch of users, the chance that it
is ever "significant" in an A/A experiment grows far beyond 5 %. The mixture sequential
probability ratio test (mSPRT) of Johari, Koomen, Pekelis and Walsh ("Peeking at A/B tests",
KDD 2017; "Always valid inference", Operations Research 2022) keeps the promise at every look.

For the difference of means Δ = ȳ_t − ȳ_c with variance V = s²_t/n_t + s²_c/n_c, it averages
the likelihood ratio of "the true difference is θ" against "it is 0" over θ ~ N(0, τ²):

    Λ = sqrt(V / (V + τ²)) · exp(τ² Δ² / (2 V (V + τ²)))

Under no true difference Λ is a martingale with mean 1, so by Ville's inequality it ever reaches
1/α with probability at most α: the p-value min(1, 1/Λ), kept at its running minimum, and the
confidence sequence {θ : Λ(Δ − θ) < 1/α} are valid at every look (see docs/adr/0081).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from flagyard.measure.statistics import Sample

ALPHA = 0.05
_LARGEST_EXP_ARGUMENT = 709.0  # math.exp overflows a float beyond about 709.78


def mixing_variance(baseline_mean: float, relative_effect: float) -> float:
    """τ², the spread of the true differences the test is tuned for: (relative effect × baseline)².

    Both inputs are the experiment's plan, fixed before its first user: the metric's expected
    control mean (the duration estimator's baseline) and the smallest relative lift worth
    detecting. So τ is the planned absolute effect, the prior on effect sizes the mSPRT asks
    for. It is also close to the best choice for the interval: at the sample size a fixed test
    needs for that effect (α 0.05, power 0.8), τ²/V = (z_0.975 + z_0.8)² ≈ 7.85, next to the
    ratio 8.21 that makes the confidence sequence narrowest at α = 0.05 (under 0.01 % wider),
    so the interval is at its tightest where the experiment plans to decide.

    It must not be recomputed from the data as they arrive: a τ² that follows the observed
    difference voids the martingale argument the guarantee rests on.
    """
    tau = relative_effect * baseline_mean
    if not math.isfinite(tau) or tau == 0:
        raise ValueError("the mixing variance needs a non-zero baseline mean and relative effect")
    return tau * tau


@dataclass(frozen=True)
class SequentialResult:
    """One look: the difference, the evidence against no difference, and the interval."""

    difference: float
    log_likelihood_ratio: float  # ln Λ; Λ itself overflows for large effects
    p_value: float  # min(1, 1/Λ) at this look alone
    half_width: float
    interval: tuple[float, float]

    @property
    def likelihood_ratio(self) -> float:
        if self.log_likelihood_ratio > _LARGEST_EXP_ARGUMENT:
            return math.inf
        return math.exp(self.log_likelihood_ratio)


def log_mixture_likelihood_ratio(difference: float, variance: float, tau_squared: float) -> float:
    """ln Λ for an observed difference whose estimate has the given variance."""
    total = variance + tau_squared
    return 0.5 * math.log(variance / total) + (
        tau_squared * difference * difference / (2 * variance * total))


def confidence_half_width(variance: float, tau_squared: float, alpha: float = ALPHA) -> float:
    """Half-width of the confidence sequence: the differences θ with Λ(Δ − θ) below 1/α."""
    total = variance + tau_squared
    return math.sqrt(2 * variance * total / tau_squared * (
        0.5 * math.log(total / variance) - math.log(alpha)))


def sequential_test(control: Sample, treatment: Sample, tau_squared: float,
                    alpha: float = ALPHA) -> SequentialResult | None:
    """Treatment against control at one look; None when either side has fewer than two users."""
    if control.n < 2 or treatment.n < 2:
        return None
    difference = treatment.mean - control.mean
    variance = treatment.variance / treatment.n + control.variance / control.n
    return sequential_estimate(difference, variance, tau_squared, alpha)


def sequential_estimate(difference: float, variance: float, tau_squared: float,
                        alpha: float = ALPHA) -> SequentialResult:
    """One look at an estimated difference with the given variance (a plain difference of means,
    or CUPED's adjusted one)."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie strictly between 0 and 1")
    if not tau_squared > 0:
        raise ValueError("the mixing variance must be positive")
    if variance == 0:
        # No spread at all: the difference is exact, as statistics.compare says too.
        log_ratio = 0.0 if difference == 0 else math.inf
        return SequentialResult(difference, log_ratio, 1.0 if difference == 0 else 0.0, 0.0,
                                (difference, difference))
    log_ratio = log_mixture_likelihood_ratio(difference, variance, tau_squared)
    p_value = 1.0 if log_ratio <= 0 else math.exp(-log_ratio)
    half = confidence_half_width(variance, tau_squared, alpha)
    return SequentialResult(difference, log_ratio, p_value, half,
                            (difference - half, difference + half))


@dataclass(frozen=True)
class Look:
    """Where an experiment stands after a look, counting every look before it.

    `p_value` is the running minimum of the looks' p-values, so it never rises: once evidence
    was seen it stays seen, which is what makes stopping at any look safe. `interval` is the
    running intersection of the looks' intervals, the interval that matches that p-value: it
    leaves out 0 when, and only when, `p_value` is below α (every look's interval is valid at
    once, so their intersection is too; short of the disjoint case in `sequential_looks`).
    The look's own figures (`result`) are kept for charts.
    """

    result: SequentialResult
    p_value: float
    interval: tuple[float, float]


def sequential_looks(looks: Iterable[tuple[Sample, Sample]], tau_squared: float,
                     alpha: float = ALPHA) -> list[Look]:
    """Each look of (control, treatment) cumulative sums, in time order, with running figures.

    Looks where a side has fewer than two users are skipped: there is nothing to test yet.
    """
    series: list[Look] = []
    for control, treatment in looks:
        result = sequential_test(control, treatment, tau_squared, alpha)
        if result is not None:
            series.append(next_look(series[-1] if series else None, result))
    return series


def next_look(previous: Look | None, result: SequentialResult) -> Look:
    """Where the experiment stands after `result`, given where it stood after the looks before."""
    if previous is None:
        return Look(result, result.p_value, result.interval)
    low = max(previous.interval[0], result.interval[0])
    high = min(previous.interval[1], result.interval[1])
    if low > high:
        # Disjoint intervals mean one of them missed the true difference (a chance of at
        # most α in all, more if the variance estimate moved a lot); the newest look, on
        # the most data, is then the better interval.
        low, high = result.interval
    return Look(result, min(previous.p_value, result.p_value), (low, high))

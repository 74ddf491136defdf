"""The mSPRT on simulated experiments looked at after every batch of users, in-process.

The plan behind the simulations: conversion 10 %, smallest lift worth finding 10 % relative
(δ = 0.01), so τ² = 1e-4; a fixed test needs about 14,750 users per variant for it, and the
experiments bring 15,000 in ten looks of 1,500.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from flagyard.measure.sequential import (
    confidence_half_width,
    log_mixture_likelihood_ratio,
    mixing_variance,
    sequential_looks,
    sequential_test,
)
from flagyard.measure.statistics import Sample, compare

ALPHA = 0.05
EXPERIMENTS, LOOKS, USERS_PER_LOOK = 1000, 10, 1500
BASELINE, RELATIVE_EFFECT = 0.10, 0.10
TAU_SQUARED = mixing_variance(BASELINE, RELATIVE_EFFECT)
# Three standard errors of a share of EXPERIMENTS around α: the binomial band.
BAND = 3 * math.sqrt(ALPHA * (1 - ALPHA) / EXPERIMENTS)

Looks = list[tuple[Sample, Sample]]


def conversion_experiments(seed: int, control_rate: float, treatment_rate: float) -> list[Looks]:
    """Cumulative sums per look of EXPERIMENTS simulated conversion experiments."""
    rng = np.random.default_rng(seed)
    shape = (EXPERIMENTS, LOOKS)
    control = rng.binomial(USERS_PER_LOOK, control_rate, shape).cumsum(axis=1)
    treatment = rng.binomial(USERS_PER_LOOK, treatment_rate, shape).cumsum(axis=1)
    users = [USERS_PER_LOOK * (look + 1) for look in range(LOOKS)]
    return [[(Sample(n, float(c), float(c)), Sample(n, float(t), float(t)))
             for n, c, t in zip(users, control_row, treatment_row, strict=True)]
            for control_row, treatment_row in zip(control, treatment, strict=True)]


def share(flags: list[bool]) -> float:
    return sum(flags) / len(flags)


def ever_significant_sequential(looks: Looks) -> bool:
    return sequential_looks(looks, TAU_SQUARED, ALPHA)[-1].p_value < ALPHA


def ever_significant_t_test(looks: Looks) -> bool:
    results = [compare(control, treatment) for control, treatment in looks]
    return any(result is not None and result.p_value < ALPHA for result in results)


def covers_at_every_look(looks: Looks, true_difference: float) -> bool:
    series = sequential_looks(looks, TAU_SQUARED, ALPHA)
    return all(look.interval[0] <= true_difference <= look.interval[1] for look in series)


def test_a_a_looked_at_ten_times__sequential_stays_under_alpha_while_t_test_does_not() -> None:
    # Given 1,000 A/A experiments, each looked at after every one of ten batches
    experiments = conversion_experiments(seed=11, control_rate=BASELINE, treatment_rate=BASELINE)
    # When each is called a winner the first time a look is significant at 5 %
    sequential = share([ever_significant_sequential(looks) for looks in experiments])
    t_test = share([ever_significant_t_test(looks) for looks in experiments])
    # Then the sequential test keeps its promise and the fixed-horizon t-test breaks it
    # (measured: sequential 1.2 %, t-test 21.9 %; a single look of either is at most 5 %).
    assert sequential <= ALPHA + BAND, sequential
    assert t_test > ALPHA + 2 * BAND, t_test


def test_a_a_looked_at_ten_times__confidence_sequence_holds_zero_at_every_look() -> None:
    experiments = conversion_experiments(seed=12, control_rate=BASELINE, treatment_rate=BASELINE)
    coverage = share([covers_at_every_look(looks, 0.0) for looks in experiments])
    assert coverage >= 1 - ALPHA - BAND, coverage  # measured 99.2 %


def test_real_lift__confidence_sequence_holds_the_true_difference_at_every_look() -> None:
    # The interval is about the true difference wherever it is, not only around zero.
    experiments = conversion_experiments(seed=13, control_rate=BASELINE, treatment_rate=0.115)
    coverage = share([covers_at_every_look(looks, 0.015) for looks in experiments])
    assert coverage >= 1 - ALPHA - BAND, coverage  # measured 98.5 %


def test_clear_lift__detected_by_the_sequential_test() -> None:
    # Given a lift of twice the planned effect (10 % → 12 %)
    experiments = conversion_experiments(seed=14, control_rate=BASELINE, treatment_rate=0.12)
    series = [sequential_looks(looks, TAU_SQUARED, ALPHA) for looks in experiments]
    # Then nearly every experiment finds it, with the right sign, and most well before the end
    detected = share([s[-1].p_value < ALPHA and s[-1].result.difference > 0 for s in series])
    by_half_time = share([s[LOOKS // 2 - 1].p_value < ALPHA for s in series])
    assert detected >= 0.97, detected  # measured 99.4 %
    assert by_half_time >= 0.6, by_half_time  # measured 82.6 %


def test_a_a_revenue__confidence_sequence_holds_zero_at_every_look() -> None:
    # Given skewed revenue per user (70 % zeros, exponential spend), mean 6, 1,000 users a look
    rng = np.random.default_rng(15)
    tau_squared = mixing_variance(6.0, 0.10)
    totals = np.zeros((2, EXPERIMENTS))
    squares = np.zeros((2, EXPERIMENTS))
    covered = np.ones(EXPERIMENTS, dtype=bool)
    for look in range(LOOKS):
        spend = rng.exponential(20.0, (2, EXPERIMENTS, 1000)) * (rng.random((2, EXPERIMENTS, 1000)) < 0.3)
        totals += spend.sum(axis=2)
        squares += (spend * spend).sum(axis=2)
        n = 1000 * (look + 1)
        for e in range(EXPERIMENTS):
            result = sequential_test(Sample(n, totals[0, e], squares[0, e]),
                                     Sample(n, totals[1, e], squares[1, e]), tau_squared, ALPHA)
            assert result is not None
            covered[e] &= result.interval[0] <= 0.0 <= result.interval[1]
    assert covered.mean() >= 1 - ALPHA - BAND, covered.mean()  # measured 99.1 %


@st.composite
def growing_looks(draw: st.DrawFn) -> Looks:
    """Cumulative conversion sums over a few looks, the batches of any size and rate."""
    looks: Looks = []
    control = treatment = Sample(0, 0.0, 0.0)
    for _ in range(draw(st.integers(1, 12))):
        grown = []
        for side in (control, treatment):
            users = draw(st.integers(1, 400))
            conversions = draw(st.integers(0, users))
            grown.append(Sample(side.n + users, side.total + conversions, side.total + conversions))
        control, treatment = grown
        looks.append((control, treatment))
    return looks


@given(looks=growing_looks(), relative_effect=st.floats(0.01, 1.0))
def test_sequential_looks__any_data__p_value_never_rises_and_interval_never_widens(
        looks: Looks, relative_effect: float) -> None:
    series = sequential_looks(looks, mixing_variance(0.2, relative_effect), ALPHA)
    for before, after in zip(series, series[1:], strict=False):
        assert after.p_value <= before.p_value
        assert after.p_value == min(before.p_value, after.result.p_value)
        disjoint = (after.result.interval[0] > before.interval[1]
                    or after.result.interval[1] < before.interval[0])
        if not disjoint:
            assert before.interval[0] <= after.interval[0] <= after.interval[1] <= before.interval[1]


samples = st.builds(lambda n, rate: Sample(n, float(round(n * rate)), float(round(n * rate))),
                    st.integers(2, 100_000), st.floats(0.0, 1.0))


@given(control=samples, treatment=samples, tau=st.floats(1e-4, 1.0))
def test_sequential_test__any_data__interval_leaves_out_zero_exactly_when_p_is_below_alpha(
        control: Sample, treatment: Sample, tau: float) -> None:
    result = sequential_test(control, treatment, tau * tau, ALPHA)
    assert result is not None
    excludes_zero = not result.interval[0] <= 0.0 <= result.interval[1]
    if abs(result.p_value - ALPHA) > 1e-9:  # exactly at the edge both readings hold
        assert excludes_zero == (result.p_value < ALPHA)


@pytest.mark.parametrize(("difference", "variance", "tau_squared"),
                         [(0.0, 1e-4, 1e-4), (0.02, 1e-4, 1e-4), (-0.5, 0.04, 0.25), (3.0, 1.0, 0.5)])
def test_log_mixture_likelihood_ratio__equals_the_mixture_integral(
        difference: float, variance: float, tau_squared: float) -> None:
    # Λ by its definition: the normal likelihood ratio of θ against 0, averaged over θ ~ N(0, τ²).
    tau = math.sqrt(tau_squared)

    def weighted_ratio(theta: float) -> float:
        ratio = math.exp((difference * theta - theta * theta / 2) / variance)
        return ratio * float(stats.norm.pdf(theta, 0.0, tau))

    expected, _ = integrate.quad(weighted_ratio, -12 * tau, 12 * tau, points=[difference], limit=200)
    assert math.exp(log_mixture_likelihood_ratio(difference, variance, tau_squared)) == pytest.approx(expected, rel=1e-7)


def test_confidence_half_width__edge_of_the_interval__likelihood_ratio_is_one_over_alpha() -> None:
    half = confidence_half_width(2e-5, 1e-4, ALPHA)
    assert log_mixture_likelihood_ratio(half, 2e-5, 1e-4) == pytest.approx(-math.log(ALPHA), rel=1e-12)


def test_mixing_variance__planned_effect__interval_near_its_narrowest_at_the_planned_size() -> None:
    # Given the plan: 10 % → 11 %, whose fixed test needs V = δ² / (z_0.975 + z_0.8)²
    tau_squared = mixing_variance(BASELINE, RELATIVE_EFFECT)
    z = float(stats.norm.ppf(0.975) + stats.norm.ppf(0.8))
    planned_variance = 0.01 ** 2 / z ** 2
    # Then no other τ² gives a visibly narrower interval at that size
    narrowest = min(confidence_half_width(planned_variance, planned_variance * r / 100, ALPHA)
                    for r in range(10, 10_000))
    assert tau_squared == pytest.approx(1e-4)
    assert confidence_half_width(planned_variance, tau_squared, ALPHA) <= narrowest * 1.001


@pytest.mark.parametrize(("baseline", "relative"), [(0.0, 0.1), (0.1, 0.0), (math.nan, 0.1)])
def test_mixing_variance__no_effect_to_tune_for__refused(baseline: float, relative: float) -> None:
    with pytest.raises(ValueError):
        mixing_variance(baseline, relative)


def test_sequential_test__fewer_than_two_users__no_result() -> None:
    assert sequential_test(Sample(1, 1.0, 1.0), Sample(50, 5.0, 5.0), TAU_SQUARED) is None


def test_sequential_test__no_spread__exact_difference() -> None:
    same = sequential_test(Sample(10, 5.0, 2.5), Sample(10, 5.0, 2.5), TAU_SQUARED)
    apart = sequential_test(Sample(10, 0.0, 0.0), Sample(10, 10.0, 10.0), TAU_SQUARED)
    assert same is not None and (same.p_value, same.interval) == (1.0, (0.0, 0.0))
    assert apart is not None and (apart.p_value, apart.interval) == (0.0, (1.0, 1.0))


def test_sequential_test__overwhelming_effect__p_value_zero_without_overflow() -> None:
    result = sequential_test(Sample(100_000, 10_000.0, 10_000.0), Sample(100_000, 30_000.0, 30_000.0), TAU_SQUARED)
    assert result is not None and result.p_value == 0.0 and result.likelihood_ratio == math.inf


def test_sequential_looks__lift_that_fades__keeps_the_evidence_already_seen() -> None:
    # Given a strong early lift whose later data show none
    early = (Sample(2000, 200.0, 200.0), Sample(2000, 300.0, 300.0))
    late = (Sample(200_000, 20_000.0, 20_000.0), Sample(200_000, 20_100.0, 20_100.0))
    series = sequential_looks([early, late], TAU_SQUARED, ALPHA)
    # Then the later look alone is not significant, but the experiment's p-value stays low
    assert series[1].result.p_value > ALPHA
    assert series[1].p_value == series[0].p_value < ALPHA

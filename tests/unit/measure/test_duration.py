"""The duration estimator's pure parts: the plan from a control's figures, the recent rate."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower

from flagyard.errors import Invalid
from flagyard.measure.duration import (
    DAY_MS,
    HOUR_MS,
    DurationPlan,
    conversion_variance,
    estimate_duration,
    plan_duration,
    recent_daily_exposures,
    users_per_variant,
)
from flagyard.measure.model.metrics import MetricKind
from flagyard.measure.statistics import Sample

NOW = 1_790_000_000_000 - 1_790_000_000_000 % HOUR_MS + 30 * 60_000  # half past an hour


def test_recent_rate__steady_week_and_more__users_per_day_over_the_last_week() -> None:
    # 10 users an hour for three weeks: only the last week counts, at 240 a day.
    series = [(NOW - NOW % HOUR_MS - h * HOUR_MS, 10) for h in range(21 * 24)]

    rate = recent_daily_exposures(series, NOW)

    assert rate == pytest.approx(240, rel=0.01)


def test_recent_rate__two_days_old_experiment__over_its_own_age() -> None:
    start = NOW - NOW % HOUR_MS - 47 * HOUR_MS
    series = [(start + h * HOUR_MS, 5) for h in range(48)]

    rate = recent_daily_exposures(series, NOW)

    assert rate == pytest.approx(48 * 5 * DAY_MS / (NOW - start))


def test_recent_rate__first_minutes__at_least_an_hour_so_a_burst_is_not_a_huge_rate() -> None:
    assert recent_daily_exposures([(NOW - NOW % HOUR_MS, 100)], NOW) == pytest.approx(2400)


def test_recent_rate__nothing_exposed__none() -> None:
    assert recent_daily_exposures([], NOW) is None


def test_plan__conversion_near_one__effect_taken_downwards_instead() -> None:
    control = Sample(1000, 990.0, 990.0)  # 99 % convert: +5 % would pass 100 %

    found = plan_duration(DurationPlan(mde=0.05, relative=True), MetricKind.CONVERSION, control,
                          variants=2, exposed=2000, daily_exposures=100.0)

    assert found.estimate is not None and found.reason is None
    assert found.absolute_effect == pytest.approx(0.0495)


def test_plan__three_variants__total_counts_every_variant() -> None:
    control = Sample(500, 100.0, 100.0)

    found = plan_duration(DurationPlan(mde=0.1, relative=True), MetricKind.CONVERSION, control,
                          variants=3, exposed=1500, daily_exposures=None)

    assert found.estimate is not None
    assert found.estimate.total_users == 3 * found.estimate.users_per_variant
    assert found.estimate.days is None  # no rate to divide by


@pytest.mark.parametrize("control, kind, words", [
    (Sample(1, 1.0, 1.0), MetricKind.CONVERSION, "no exposed users"),
    (Sample(100, 0.0, 0.0), MetricKind.MEAN, "zero baseline"),
    (Sample(100, 500.0, 2500.0), MetricKind.MEAN, "does not vary"),
    (Sample(100, 20.0, 20.0), MetricKind.CONVERSION, "too small"),
])
def test_plan__no_estimate_possible__the_reason_says_why(control: Sample, kind: MetricKind,
                                                         words: str) -> None:
    mde = 1e-200 if "small" in words else 0.1
    found = plan_duration(DurationPlan(mde=mde, relative=True), kind, control, variants=2,
                          exposed=control.n, daily_exposures=10.0)

    assert found.estimate is None
    assert found.reason is not None and words in found.reason


@pytest.mark.parametrize("plan, field", [
    (DurationPlan(mde=0, relative=True), "mde"),
    (DurationPlan(mde=float("nan"), relative=True), "mde"),
    (DurationPlan(mde=0.1, relative=True, power=1.0), "power"),
    (DurationPlan(mde=0.1, relative=True, confidence_level=0.5), "confidenceLevel"),
])
def test_plan__out_of_range__refused_naming_the_field(plan: DurationPlan, field: str) -> None:
    with pytest.raises(Invalid, match=field):
        plan.checked()


@pytest.mark.parametrize(("baseline", "effect"), [(0.10, 0.01), (0.30, -0.03), (0.02, 0.005)])
def test_users_per_variant__conversion__equals_statsmodels_normal_power(baseline: float, effect: float) -> None:
    control, treatment = conversion_variance(baseline), conversion_variance(baseline + effect)
    needed = users_per_variant(effect, control, treatment, alpha=0.05, power=0.8)
    # The equivalent standardized effect for equal groups: δ over the root mean variance.
    effect_size = abs(effect) / math.sqrt((control + treatment) / 2)
    expected = NormalIndPower().solve_power(effect_size=effect_size, alpha=0.05, power=0.8,
                                            ratio=1.0, alternative="two-sided")
    assert needed == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("variance", "effect", "alpha", "power"),
                         [(400.0, 1.5, 0.05, 0.8), (2.25, 0.05, 0.01, 0.9), (1e4, -20.0, 0.1, 0.95)])
def test_users_per_variant__mean_metric__equals_statsmodels_normal_power(
        variance: float, effect: float, alpha: float, power: float) -> None:
    needed = users_per_variant(effect, variance, variance, alpha=alpha, power=power)
    expected = NormalIndPower().solve_power(effect_size=abs(effect) / math.sqrt(variance), alpha=alpha,
                                            power=power, ratio=1.0, alternative="two-sided")
    assert needed == pytest.approx(expected, rel=1e-5)


def test_users_per_variant__textbook_case__about_14750_per_variant() -> None:
    # 10 % → 11 %: the figure every online calculator gives, about 14,750 users per variant.
    needed = users_per_variant(0.01, conversion_variance(0.10), conversion_variance(0.11))
    assert 14_700 < needed < 14_800


def test_users_per_variant__half_the_effect__four_times_the_users() -> None:
    assert users_per_variant(0.5, 4.0, 4.0) == pytest.approx(4 * users_per_variant(1.0, 4.0, 4.0))


@pytest.mark.parametrize(("effect", "control", "treatment", "alpha", "power"),
                         [(0.0, 1.0, 1.0, 0.05, 0.8), (1.0, 0.0, 0.0, 0.05, 0.8),
                          (1.0, 1.0, 1.0, 0.0, 0.8), (1.0, 1.0, 1.0, 0.05, 1.0)])
def test_users_per_variant__impossible_plan__refused(
        effect: float, control: float, treatment: float, alpha: float, power: float) -> None:
    with pytest.raises(ValueError):
        users_per_variant(effect, control, treatment, alpha=alpha, power=power)


def test_estimate_duration__three_variants_at_1000_a_day__rounded_up_users_and_days() -> None:
    estimate = estimate_duration(1499.2, variants=3, daily_exposures=1000)
    assert (estimate.users_per_variant, estimate.total_users) == (1500, 4500)
    assert estimate.days == pytest.approx(4.5)


def test_estimate_duration__no_exposures_yet__users_but_no_days() -> None:
    estimate = estimate_duration(1000, variants=2, daily_exposures=0)
    assert estimate.total_users == 2000 and estimate.days is None

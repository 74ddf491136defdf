"""Minimum-sample thresholds and the duration estimator (against statsmodels' power solver)."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower

from flagyard.measure.model.metrics import MetricKind
from flagyard.measure.statistics import Sample
from flagyard.measure.thresholds import (
    conversion_variance,
    estimate_duration,
    unmet_threshold,
    users_per_variant,
)


def converted(users: int, conversions: int) -> Sample:
    return Sample(users, float(conversions), float(conversions))


def test_unmet_threshold__conversion_at_exactly_25_and_100__met() -> None:
    samples = {"control": converted(100, 25), "treatment": converted(100, 25)}
    assert unmet_threshold(MetricKind.CONVERSION, samples) is None


def test_unmet_threshold__treatment_with_24_conversions__names_it_and_what_is_missing() -> None:
    samples = {"control": converted(400, 60), "treatment": converted(400, 24)}
    unmet = unmet_threshold(MetricKind.CONVERSION, samples)
    assert unmet is not None
    assert (unmet.variant, unmet.quantity, unmet.observed, unmet.required) == ("treatment", "conversions", 24, 25)
    assert unmet.reason == "treatment has 24 of the 25 conversions needed before results are shown"


def test_unmet_threshold__control_with_99_exposures__exposures_reported_first() -> None:
    # 99 users can hold 30 conversions, but the missing user is what the result reports.
    samples = {"control": converted(99, 30), "treatment": converted(500, 10)}
    unmet = unmet_threshold(MetricKind.CONVERSION, samples)
    assert unmet is not None and (unmet.variant, unmet.quantity, unmet.observed) == ("control", "exposures", 99)


@pytest.mark.parametrize("kind", [MetricKind.MEAN, MetricKind.COUNT])
def test_unmet_threshold__mean_or_count_at_100_exposures__met_whatever_the_values(kind: MetricKind) -> None:
    # Few users with an event: only exposures matter for a mean or a count.
    samples = {"control": Sample(100, 3.0, 9.0), "treatment": Sample(100, 0.0, 0.0)}
    assert unmet_threshold(kind, samples) is None


@pytest.mark.parametrize("kind", [MetricKind.MEAN, MetricKind.COUNT])
def test_unmet_threshold__mean_or_count_at_99_exposures__not_met(kind: MetricKind) -> None:
    samples = {"control": Sample(100, 50.0, 80.0), "treatment": Sample(99, 50.0, 80.0)}
    unmet = unmet_threshold(kind, samples)
    assert unmet is not None
    assert unmet.reason == "treatment has 99 of the 100 exposures needed before results are shown"


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

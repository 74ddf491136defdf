"""The statistics service on simulated experiments, in-process (no server)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from flagyard.measure.statistics import Sample, compare, sample_ratio

USERS_PER_VARIANT = 10_000


def summary(values: np.ndarray) -> Sample:
    return Sample(len(values), float(values.sum()), float((values * values).sum()))


def test_compare__revenue_sample__equals_statsmodels_welch_test() -> None:
    # Given skewed per-user revenue, many zeros, in two variants of different sizes
    rng = np.random.default_rng(3)
    control = rng.exponential(20, 900) * (rng.random(900) < 0.3)
    treatment = rng.exponential(24, 1100) * (rng.random(1100) < 0.3)
    # When compared from sums alone
    result = compare(summary(control), summary(treatment))
    # Then the test, interval and chance agree with statsmodels / scipy on the raw values
    assert result is not None
    low, high = CompareMeans(DescrStatsW(treatment), DescrStatsW(control)).tconfint_diff(usevar="unequal")
    assert result.p_value == pytest.approx(stats.ttest_ind(treatment, control, equal_var=False).pvalue, abs=1e-9)
    assert result.interval == pytest.approx((low, high), abs=1e-9)
    assert result.difference == pytest.approx(treatment.mean() - control.mean(), abs=1e-12)


def test_compare__known_lift_of_ten_percent__detected_with_the_right_sign() -> None:
    # Given conversion 20 % in control and 22 % in treatment, 10,000 users each
    rng = np.random.default_rng(7)
    control = (rng.random(USERS_PER_VARIANT) < 0.20).astype(float)
    treatment = (rng.random(USERS_PER_VARIANT) < 0.22).astype(float)
    # When compared
    result = compare(summary(control), summary(treatment))
    # Then the lift is significant, positive, and its interval holds the true difference
    assert result is not None
    assert result.p_value < 0.05 and result.difference > 0
    assert result.interval[0] < 0.02 < result.interval[1]
    assert result.chance_to_beat_control > 0.95
    assert result.relative_difference == pytest.approx(0.1, abs=0.08)


def test_compare__negative_lift_on_revenue__detected_with_the_right_sign() -> None:
    rng = np.random.default_rng(8)
    control = rng.gamma(2.0, 10.0, USERS_PER_VARIANT)
    treatment = rng.gamma(2.0, 9.0, USERS_PER_VARIANT)  # 10 % less
    result = compare(summary(control), summary(treatment))
    assert result is not None
    assert result.p_value < 0.05 and result.difference < 0 and result.interval[1] < 0
    assert result.chance_to_beat_control < 0.05


def test_compare__a_a_simulations__reject_at_close_to_five_percent() -> None:
    # Given 2,000 A/A experiments (no true difference), 2,000 users per variant each
    rng = np.random.default_rng(2024)
    simulations, users = 2000, 2000
    control = rng.random((simulations, users)) < 0.1
    treatment = rng.random((simulations, users)) < 0.1
    # When each is compared
    rejected = 0
    for c, t in zip(control.astype(float), treatment.astype(float), strict=True):
        result = compare(summary(c), summary(t))
        assert result is not None
        rejected += result.p_value < 0.05
    # Then about 5 % are false positives (binomial 99.9 % band around 100 of 2,000)
    assert 68 <= rejected <= 135, rejected


def test_sample_ratio__even_split__no_mismatch() -> None:
    result = sample_ratio({"control": 5030, "treatment": 4970}, {"control": 1, "treatment": 1})
    assert result.mismatch is False and result.p_value is not None and result.p_value > 0.5


def test_sample_ratio__skewed_split__mismatch() -> None:
    # Given weights 1:1 but 52 % of 20,000 users in one variant
    result = sample_ratio({"control": 10_400, "treatment": 9_600}, {"control": 1, "treatment": 1})
    assert result.mismatch is True
    assert result.p_value == pytest.approx(stats.chisquare([10_400, 9_600]).pvalue)


def test_sample_ratio__uneven_weights__tested_against_the_weights() -> None:
    result = sample_ratio({"control": 2500, "treatment": 7500}, {"control": 1, "treatment": 3})
    assert result.mismatch is False and result.expected_shares == {"control": 0.25, "treatment": 0.75}


def test_compare__fewer_than_two_users__no_comparison() -> None:
    assert compare(Sample(1, 1.0, 1.0), Sample(10, 5.0, 5.0)) is None


def test_compare__growthbook_welch_vector__published_figures() -> None:
    # GrowthBook's test vector, as (sum, sum of squares, n): A = control, B = treatment
    control, treatment = Sample(3407, 1396.87, 52377.9767), Sample(3461, 2422.7, 134698.29)
    result = compare(control, treatment)
    assert result is not None
    assert result.difference == pytest.approx(0.29, abs=5e-4)
    assert result.std_error == pytest.approx(0.12478, abs=5e-5)
    assert result.interval == pytest.approx((0.04538, 0.53462), abs=5e-4)
    assert result.p_value == pytest.approx(0.02016, abs=5e-5)


@pytest.mark.parametrize(("observed", "weights", "p_value"), [
    ({"a": 1000, "b": 1200}, {"a": 1, "b": 1}, 2.0079e-5),
    ({"a": 135, "b": 115}, {"a": 1, "b": 1}, 0.205903),
    ({"a": 310, "b": 98}, {"a": 3, "b": 1}, 0.647434),
])
def test_sample_ratio__growthbook_srm_vectors__published_p_values(
        observed: dict[str, int], weights: dict[str, float], p_value: float) -> None:
    assert sample_ratio(observed, weights).p_value == pytest.approx(p_value, rel=1e-4)

"""Minimum-sample thresholds and the duration estimator (against statsmodels' power solver)."""

from __future__ import annotations

import pytest

from flagyard.measure.model.metrics import MetricKind
from flagyard.measure.statistics import Sample
from flagyard.measure.thresholds import unmet_threshold


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

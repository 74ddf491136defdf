"""CUPED from per-variant sums against the published vector and per-user data."""

from __future__ import annotations

import numpy as np
import pytest

from flagyard.measure.cuped import adjust, pooled_theta
from flagyard.measure.statistics import Covariate, Sample


def paired(x: np.ndarray, y: np.ndarray) -> Sample:
    return Sample(len(y), float(y.sum()), float((y * y).sum()),
                  Covariate(float(x.sum()), float((x * x).sum()), float((x * y).sum())))


def test_pooled_theta__published_vector() -> None:
    # PostHog's CUPED reference data: control and treatment sums, pooled θ = −0.069566052
    control = Sample(2801, 280, 560, Covariate(195, 390, -18))
    treatment = Sample(2800, 205, 510, Covariate(110, 380, -8))
    assert pooled_theta([control, treatment]) == pytest.approx(-0.069566052, abs=1e-9)


def test_adjust__equals_an_independent_computation_from_per_user_data() -> None:
    rng = np.random.default_rng(7)
    x_c, x_t = rng.gamma(2.0, 10.0, 4000), rng.gamma(2.0, 10.0, 4100)
    y_c = 0.8 * x_c + rng.normal(0, 5, x_c.size)
    y_t = 0.8 * x_t + rng.normal(1.0, 5, x_t.size)
    x, y = np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t])
    theta = float(np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2))
    expected_difference = (y_t.mean() - y_c.mean()) - theta * (x_t.mean() - x_c.mean())
    expected_variance = sum(
        (np.var(yv, ddof=1) - 2 * theta * np.cov(xv, yv, ddof=1)[0, 1] + theta**2 * np.var(xv, ddof=1)) / yv.size
        for xv, yv in ((x_c, y_c), (x_t, y_t)))
    control, treatment = paired(x_c, y_c), paired(x_t, y_t)
    found = adjust(control, treatment, pooled_theta([control, treatment]))
    assert found is not None
    assert found.theta == pytest.approx(theta, abs=1e-9)
    assert found.difference == pytest.approx(expected_difference, abs=1e-9)
    assert found.variance == pytest.approx(expected_variance, rel=1e-9)
    # on correlated data the interval shrinks: most of y's spread was x's
    assert found.variance_reduction > 0.8


def test_adjust__covariate_without_spread__the_plain_difference() -> None:
    control = Sample(100, 50, 50, Covariate(0, 0, 0))
    treatment = Sample(100, 60, 60, Covariate(0, 0, 0))
    found = adjust(control, treatment, pooled_theta([control, treatment]))
    assert found is not None and found.theta == 0 and found.difference == pytest.approx(0.1)
    assert found.variance == pytest.approx(found.unadjusted_variance) and found.variance_reduction == 0

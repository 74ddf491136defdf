"""CUPED: a treatment's difference with the part a pre-exposure covariate predicts taken out.

Each exposed user has, beside their metric value y, the same metric computed over the W days
before their exposure, x. Users who bought a lot before the experiment buy a lot during it
whatever variant they see; that share of y's spread says nothing about the variant. With θ the
slope of y on x pooled over every variant (randomisation makes it the same in each),

    Δ* = (ȳ_t − ȳ_c) − θ (x̄_t − x̄_c)
    V* = Σ_{v ∈ {t, c}} (s²_y,v − 2θ s_xy,v + θ² s²_x,v) / n_v

Δ* estimates the same difference as Δ (x̄_t − x̄_c is 0 in expectation: x was fixed before the
variant was), with V* ≤ V by the share of y's variance x explains. Everything comes from six
sums per variant (`Sample` with its `Covariate`), so a result still reads a few rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from flagyard.measure.statistics import Covariate, Sample, SampleSeries


def pooled_theta(samples: Iterable[Sample]) -> float:
    """θ = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)² over every user of every variant, with pooled means;
    0 when x does not vary (there is nothing to adjust by)."""
    n = x = y = xx = xy = 0.0
    for sample in samples:
        covariate = sample.covariate or Covariate(0.0, 0.0, 0.0)
        n += sample.n
        y += sample.total
        x += covariate.total
        xx += covariate.squares
        xy += covariate.products
    if n < 2:
        return 0.0
    sxx = xx - x * x / n
    return (xy - x * y / n) / sxx if sxx > 0 else 0.0


@dataclass(frozen=True)
class Adjusted:
    difference: float  # Δ*
    variance: float  # V*, the variance of Δ*
    unadjusted_variance: float  # V, for the share removed
    theta: float

    @property
    def variance_reduction(self) -> float:
        """The share of the difference's variance CUPED removed (0.3 = 30 %)."""
        return 1 - self.variance / self.unadjusted_variance if self.unadjusted_variance > 0 else 0.0


def adjust(control: Sample, treatment: Sample, theta: float) -> Adjusted | None:
    """Treatment against control, adjusted by θ; None when either side has fewer than two users."""
    if control.n < 2 or treatment.n < 2:
        return None
    parts = [_moments(sample) for sample in (control, treatment)]
    (mean_yc, mean_xc, *_), (mean_yt, mean_xt, *_) = parts
    difference = (mean_yt - mean_xt * theta) - (mean_yc - mean_xc * theta)
    variance = sum((var_y - 2 * theta * cov + theta * theta * var_x) / n for *_, var_y, var_x, cov, n in parts)
    unadjusted = sum(var_y / n for *_, var_y, _, _, n in parts)
    # Rounding can leave a hair below zero when x explains y exactly.
    return Adjusted(difference, max(0.0, variance), max(0.0, unadjusted), theta)


def _moments(sample: Sample) -> tuple[float, float, float, float, float, int]:
    """Means of y and x, sample variances of y and x, their covariance (n − 1), and n."""
    n = sample.n
    covariate = sample.covariate or Covariate(0.0, 0.0, 0.0)
    x, y = covariate.total, sample.total
    var_y = (sample.squares - y * y / n) / (n - 1)
    var_x = (covariate.squares - x * x / n) / (n - 1)
    cov = (covariate.products - x * y / n) / (n - 1)
    return y / n, x / n, var_y, var_x, cov, n


def pooled_thetas(series: Iterable[SampleSeries]) -> np.ndarray:
    """`pooled_theta` at every look, over the variants' series."""
    parts = [(s.n, s.total, *s.covariate) for s in series if s.covariate is not None]
    n, y, x, xx, xy = (sum(values) for values in zip(*parts, strict=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx = xx - x * x / n
        theta = (xy - x * y / n) / sxx
    return np.where((n >= 2) & (sxx > 0), theta, 0.0)

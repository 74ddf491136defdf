"""The statistics behind experiment results, from per-variant sums (see docs/results.md).

Every metric is a mean of one value per exposed user (0/1 for conversion, the property's sum
for mean, the event count for count), so one method serves all three: Welch's unequal-variance
t-test for the p-value (scipy), a Welch–Satterthwaite t interval for the difference, and the
normal approximation of the difference's posterior under a flat prior for the chance to beat
control. Sample ratio mismatch is Pearson's chi-square test against the rollout weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
SRM_THRESHOLD = 0.001  # the p-value below which the split is called a mismatch


@dataclass(frozen=True)
class Covariate:
    """CUPED's x beside a sample's y: Σx, Σx² and Σxy over the same users (cuped.py)."""

    total: float
    squares: float
    products: float


@dataclass(frozen=True)
class Sample:
    """Summary of one value per user: how many users, the sum and the sum of squares (and,
    when known, the same users' pre-exposure covariate)."""

    n: int
    total: float
    squares: float
    covariate: Covariate | None = None

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))


@dataclass(frozen=True)
class SampleSeries:
    """A variant's `Sample` at every look, as arrays (one element per look, oldest first), so a
    month of hourly looks is a few array operations rather than thousands of objects."""

    n: np.ndarray
    total: np.ndarray
    squares: np.ndarray
    covariate: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # Σx, Σx², Σxy

    def __len__(self) -> int:
        return len(self.n)

    def at(self, index: int) -> Sample:
        covariate = None
        if self.covariate is not None:
            x, xx, xy = self.covariate
            covariate = Covariate(float(x[index]), float(xx[index]), float(xy[index]))
        return Sample(int(self.n[index]), float(self.total[index]), float(self.squares[index]), covariate)

    @staticmethod
    def of(samples: Sequence[Sample]) -> SampleSeries:
        covariates = [s.covariate for s in samples]
        covariate = None
        if samples and all(c is not None for c in covariates):
            covariate = tuple(np.array([getattr(c, name) for c in covariates], dtype=float)
                              for name in ("total", "squares", "products"))
        return SampleSeries(np.array([s.n for s in samples], dtype=float),
                            np.array([s.total for s in samples], dtype=float),
                            np.array([s.squares for s in samples], dtype=float), covariate)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Comparison:
    difference: float
    relative_difference: float | None
    interval: tuple[float, float]  # at the confidence asked for
    p_value: float
    chance_to_beat_control: float
    std_error: float


def compare(control: Sample, treatment: Sample, confidence: float = CONFIDENCE) -> Comparison | None:
    """Treatment against control; None when either side has fewer than two users."""
    if control.n < 2 or treatment.n < 2:
        return None
    difference = treatment.mean - control.mean
    relative = difference / control.mean if control.mean != 0 else None
    a, b = treatment.variance / treatment.n, control.variance / control.n
    se = math.sqrt(a + b)
    if se == 0:
        # No spread at all: the difference is exact.
        return Comparison(difference, relative, (difference, difference),
                          1.0 if difference == 0 else 0.0,
                          0.5 if difference == 0 else float(difference > 0), 0.0)
    # Imported on first use: the import takes seconds, and most processes never compare.
    from scipy import stats

    _, p_value = stats.ttest_ind_from_stats(
        treatment.mean, math.sqrt(treatment.variance), treatment.n,
        control.mean, math.sqrt(control.variance), control.n, equal_var=False)
    df = (a + b) ** 2 / (a * a / (treatment.n - 1) + b * b / (control.n - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    chance = float(stats.norm.cdf(difference / se))
    return Comparison(difference, relative, (difference - half, difference + half), float(p_value),
                      chance, se)


@dataclass(frozen=True)
class SampleRatio:
    p_value: float | None
    mismatch: bool
    expected_shares: dict[str, float]


def sample_ratio(observed: Mapping[str, int], weights: Mapping[str, float]) -> SampleRatio:
    """Chi-square goodness of fit of the users per variant to the rollout weights."""
    weighted = {key: float(w) for key, w in weights.items() if w > 0}
    total_weight = sum(weighted.values())
    shares = {key: w / total_weight for key, w in weighted.items()} if total_weight else {}
    users = sum(observed.get(key, 0) for key in shares)
    stray = sum(n for key, n in observed.items() if key not in shares)
    if len(shares) < 2 or users == 0:
        return SampleRatio(None, stray > 0, shares)
    from scipy import stats

    keys = sorted(shares)
    _, p_value = stats.chisquare([observed.get(k, 0) for k in keys], [shares[k] * users for k in keys])
    p = float(p_value)
    # Users in a variant the weights give nothing to are a mismatch by themselves.
    return SampleRatio(p, p < SRM_THRESHOLD or stray > 0, shares)

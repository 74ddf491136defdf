"""CUPED: a treatment's difference with the part a pre-exposure covariate predicts taken out.

Each exposed user has, beside their metric value y, the same metric computed over the W days
before their exposure, x. Users who bought a lot before the experiment buy a lot during it
whatever variant they see; that share of y's spread says nothing about the variant. With θ the
slope of y on x pooled over every variant (randomisation makes it the same in each),

    Δ* = (ȳ_t − ȳ_c) − θ (x̄_t − x̄_c)
    V* = Σ_{v ∈ {t, c}} (s²_y,v − 2θ s_xy,v + θ² s²_x,v) / n_v

Δ* estimates the same difference as Δ (x̄_t − x̄_c is 0 in expectation: x was fixed before the
variant was), with V* ≤ V by the share of y's variance x explains. Everything comes from six
sums per variant, so a result still reads a few rows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paired:
    """One variant's sums of y (the metric), x (its pre-exposure value) and their product."""

    n: int
    y: float  # Σy
    yy: float  # Σy²
    x: float  # Σx
    xx: float  # Σx²
    xy: float  # Σxy

    def _centred(self, total: float, squares: float) -> float:
        return squares - total * total / self.n

    @property
    def var_y(self) -> float:
        return self._centred(self.y, self.yy) / (self.n - 1)

    @property
    def var_x(self) -> float:
        return self._centred(self.x, self.xx) / (self.n - 1)

    @property
    def cov_xy(self) -> float:
        return (self.xy - self.x * self.y / self.n) / (self.n - 1)


def pooled_theta(variants: list[Paired]) -> float:
    """θ = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)² over every user of every variant, with pooled means;
    0 when x does not vary (there is nothing to adjust by)."""
    n = sum(v.n for v in variants)
    if n < 2:
        return 0.0
    x, y = sum(v.x for v in variants), sum(v.y for v in variants)
    sxx = sum(v.xx for v in variants) - x * x / n
    sxy = sum(v.xy for v in variants) - x * y / n
    return sxy / sxx if sxx > 0 else 0.0


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


def adjust(control: Paired, treatment: Paired, theta: float) -> Adjusted | None:
    """Treatment against control, adjusted by θ; None when either side has fewer than two users."""
    if control.n < 2 or treatment.n < 2:
        return None
    difference = (treatment.y / treatment.n - control.y / control.n) - theta * (
        treatment.x / treatment.n - control.x / control.n)
    variance = sum((v.var_y - 2 * theta * v.cov_xy + theta * theta * v.var_x) / v.n for v in (control, treatment))
    unadjusted = sum(v.var_y / v.n for v in (control, treatment))
    # Rounding can leave a hair below zero when x explains y exactly.
    return Adjusted(difference, max(0.0, variance), max(0.0, unadjusted), theta)

"""Thompson sampling: a multi-armed bandit's next traffic split from its arms' results so far.

Each arm's mean has a posterior: for a conversion metric Beta(1 + conversions, 1 + users −
conversions) (a uniform prior), for a mean or count metric the normal N(ȳ, s²/n) (a flat prior
and the normal approximation, the one the results use). Drawing from every posterior at once,
many times, the share of draws an arm wins is its chance to be best; the next split is
proportional to it, with a floor so no arm starves (a wrongly written-off arm can come back).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from flagyard.measure.model.metrics import Direction, MetricKind
from flagyard.measure.statistics import Sample

DRAWS = 20_000
FLOOR = 0.01  # the smallest share of traffic an arm keeps
WEIGHT_TOTAL = 10_000  # rolloutWeights are whole numbers: basis points of the traffic
MIN_EXPOSURES = 100  # per arm, before the first reallocation (Amplitude's rule)


def chance_to_be_best(arms: Mapping[str, Sample], kind: MetricKind, direction: Direction,
                      seed: int, draws: int = DRAWS) -> dict[str, float]:
    """Each arm's share of the draws in which its mean was the best (highest, or lowest when
    a decrease is good). `seed` makes a reallocation repeatable."""
    rng = np.random.default_rng(seed)
    keys = sorted(arms)
    columns = []
    for key in keys:
        arm = arms[key]
        if kind is MetricKind.CONVERSION:
            conversions = min(arm.total, arm.n)
            columns.append(rng.beta(1 + conversions, 1 + arm.n - conversions, draws))
        else:
            spread = math.sqrt(arm.variance / arm.n) if arm.n else 0.0
            columns.append(rng.normal(arm.mean, spread, draws))
    samples = np.column_stack(columns)
    best = samples.argmax(axis=1) if direction is Direction.INCREASE else samples.argmin(axis=1)
    wins = np.bincount(best, minlength=len(keys))
    return {key: float(wins[n]) / draws for n, key in enumerate(keys)}


def next_weights(chances: Mapping[str, float], floor: float = FLOOR) -> dict[str, int]:
    """Whole-number weights summing to WEIGHT_TOTAL, proportional to the chances, each arm with at
    least `floor` of the traffic."""
    keys = sorted(chances)
    if not keys or floor * len(keys) > 1:
        raise ValueError("the floor leaves no room for the arms")
    spare = 1 - floor * len(keys)
    shares = {key: floor + spare * chances[key] / sum(chances.values()) for key in keys}
    weights = {key: math.floor(share * WEIGHT_TOTAL) for key, share in shares.items()}
    # Rounding down leaves a few basis points; the likeliest best arm takes them.
    leader = max(keys, key=lambda key: (chances[key], key))
    weights[leader] += WEIGHT_TOTAL - sum(weights.values())
    return weights


def ready(arms: Mapping[str, Sample]) -> str | None:
    """Why the bandit cannot reallocate yet (None: it can): every arm needs its exposures."""
    for key in sorted(arms):
        if arms[key].n < MIN_EXPOSURES:
            return f"{key} has {arms[key].n} of the {MIN_EXPOSURES} exposures needed before reallocating"
    return None

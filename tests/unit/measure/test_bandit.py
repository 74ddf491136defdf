"""Thompson sampling in simulated bandits, in-process."""

from __future__ import annotations

import numpy as np
import pytest

from flagyard.measure.bandit import (
    FLOOR,
    MIN_EXPOSURES,
    WEIGHT_TOTAL,
    chance_to_be_best,
    next_weights,
    ready,
)
from flagyard.measure.model.metrics import Direction, MetricKind
from flagyard.measure.statistics import Sample


def simulate_bandit() -> tuple[dict[str, int], dict[str, int]]:
    """Three arms converting at 10 %, 11 % and 13 %, reallocated after every 3,000 users, 30
    times: the final weights and the users each arm got."""
    rng = np.random.default_rng(8)
    rates = {"a": 0.10, "b": 0.11, "c": 0.13}
    users = dict.fromkeys(rates, 0)
    conversions = dict.fromkeys(rates, 0)
    weights = dict.fromkeys(rates, WEIGHT_TOTAL // 3)
    for period in range(30):
        split = rng.multinomial(3000, [weights[k] / sum(weights.values()) for k in rates])
        for key, n in zip(rates, split, strict=True):
            users[key] += int(n)
            conversions[key] += int(rng.binomial(n, rates[key]))
        arms = {k: Sample(users[k], float(conversions[k]), float(conversions[k])) for k in rates}
        if ready(arms) is None:
            weights = next_weights(chance_to_be_best(arms, MetricKind.CONVERSION, Direction.INCREASE, seed=period))
    return weights, users


def test_bandit_simulation__most_traffic_moves_to_the_best_arm() -> None:
    weights, users = simulate_bandit()
    # By the end most traffic goes to the best arm, and no arm starved below the floor
    assert weights["c"] / WEIGHT_TOTAL > 0.9
    assert sum(users.values()) == 90_000 and users["c"] > 0.6 * 90_000
    assert min(weights.values()) >= FLOOR * WEIGHT_TOTAL


def test_chance_to_be_best__decrease_is_good__the_lowest_mean_wins() -> None:
    arms = {"fast": Sample(1000, 100_000.0, 100_000.0 * 100 + 1000 * 25.0),
            "slow": Sample(1000, 120_000.0, 120_000.0 * 120 + 1000 * 25.0)}
    chances = chance_to_be_best(arms, MetricKind.MEAN, Direction.DECREASE, seed=1)
    assert chances["fast"] > 0.999 and sum(chances.values()) == pytest.approx(1.0)


def test_next_weights__whole_numbers_that_sum_to_the_total_with_the_floor() -> None:
    weights = next_weights({"a": 0.0, "b": 0.25, "c": 0.75})
    assert sum(weights.values()) == WEIGHT_TOTAL
    assert weights["a"] == FLOOR * WEIGHT_TOTAL and weights["c"] > weights["b"]


def test_ready__needs_the_minimum_exposures_on_every_arm() -> None:
    arms = {"a": Sample(MIN_EXPOSURES, 5.0, 5.0), "b": Sample(MIN_EXPOSURES - 1, 5.0, 5.0)}
    assert ready(arms) == f"b has {MIN_EXPOSURES - 1} of the {MIN_EXPOSURES} exposures needed before reallocating"
    assert ready({"a": arms["a"]}) is None

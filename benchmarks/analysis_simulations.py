"""Prints the rates the analysis simulations assert (tests/unit/measure/test_analysis.py and
test_bandit.py): how often A/A experiments read after each of ten looks are declared significant
by the sequential test and by the t-test, how often a real lift is found, the same for CUPED, and
where a bandit sends its traffic.

    .venv/bin/python benchmarks/analysis_simulations.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from flagyard.measure.bandit import WEIGHT_TOTAL, chance_to_be_best, next_weights, ready  # noqa: E402
from flagyard.measure.model.metrics import Direction, MetricKind  # noqa: E402
from flagyard.measure.statistics import Sample  # noqa: E402
from tests.unit.measure import test_analysis as simulations  # noqa: E402


def share(flags: list[bool]) -> str:
    return f"{sum(flags) / len(flags):6.1%} of {len(flags)}"


def main() -> None:
    rng = np.random.default_rng(19)
    experiments = [simulations.looks(rng, 0.10, 0.10) for _ in range(simulations.EXPERIMENTS)]
    print("A/A, ten looks, ever significant (α = 5 %):")
    print(f"  sequential test          {share([simulations.ever_significant(simulations.SEQUENTIAL, e) for e in experiments])}")
    print(f"  t-test read at each look {share([simulations.ever_significant(simulations.T_TEST, e) for e in experiments])}")
    rng = np.random.default_rng(20)
    lifts = [simulations.ever_significant(simulations.SEQUENTIAL, simulations.looks(rng, 0.10, 0.12)) for _ in range(200)]
    print(f"10 % → 12 % conversion, found by the sequential test: {share(lifts)}")
    rng = np.random.default_rng(21)
    cuped = [any(a.verdicts[0].significant for a in simulations.analyse_over_time(
        simulations.CUPED, "control", [simulations.cuped_pair(simulations.correlated_looks(rng, 0.0))],
        list(range(simulations.LOOKS)))) for _ in range(300)]
    print(f"A/A with CUPED, sequential, ten looks, ever significant: {share(cuped)}")
    looks = simulations.correlated_looks(np.random.default_rng(22), lift=1.0)
    verdict = simulations.analyse(simulations.CUPED, "control", [simulations.cuped_pair(looks)]).verdicts[0]
    print(f"CUPED on a covariate that explains most of the metric: variance removed {verdict.variance_reduction:.1%}")
    print(f"Bandit, arms converting 10 %, 11 %, 13 %, 30 reallocations of 3,000 users: {bandit():.1%} of the "
          "traffic on the best arm at the end")


def bandit() -> float:
    """The best arm's share of the traffic after the last reallocation (as test_bandit.py runs it)."""
    rng = np.random.default_rng(8)
    rates = {"a": 0.10, "b": 0.11, "c": 0.13}
    users, conversions = dict.fromkeys(rates, 0), dict.fromkeys(rates, 0)
    weights = dict.fromkeys(rates, WEIGHT_TOTAL // 3)
    for period in range(30):
        split = rng.multinomial(3000, [weights[k] / sum(weights.values()) for k in rates])
        for key, n in zip(rates, split, strict=True):
            users[key] += int(n)
            conversions[key] += int(rng.binomial(n, rates[key]))
        arms = {k: Sample(users[k], float(conversions[k]), float(conversions[k])) for k in rates}
        if ready(arms) is None:
            weights = next_weights(chance_to_be_best(arms, MetricKind.CONVERSION, Direction.INCREASE, seed=period))
    return weights["c"] / WEIGHT_TOTAL


if __name__ == "__main__":
    main()

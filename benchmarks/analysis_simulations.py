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
from flagyard.measure.bandit import WEIGHT_TOTAL  # noqa: E402
from tests.unit.measure import test_analysis as simulations  # noqa: E402
from tests.unit.measure.test_bandit import simulate_bandit  # noqa: E402


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
    weights, _ = simulate_bandit()
    print(f"Bandit, arms converting 10 %, 11 %, 13 %, 30 reallocations of 3,000 users: {weights['c'] / WEIGHT_TOTAL:.1%} of the "
          "traffic on the best arm at the end")


if __name__ == "__main__":
    main()

"""The analysis as results use it: τ fixed from the data at the first look meeting the minimum
samples, the family corrected together, guardrails judged apart. Simulations in-process."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from flagyard.measure.analysis import Looks, Pair, analyse, analyse_over_time
from flagyard.measure.cuped import pooled_theta
from flagyard.measure.model.analysis import AnalysisSettings
from flagyard.measure.model.metrics import Direction, Metric, MetricKind, Role
from flagyard.measure.statistics import Covariate, Sample

ALPHA = 0.05
EXPERIMENTS, LOOKS, USERS_PER_LOOK = 600, 10, 1500
BAND = 3 * math.sqrt(ALPHA * (1 - ALPHA) / EXPERIMENTS)
CONVERSION = Metric(event_type="purchase", kind=MetricKind.CONVERSION, role=Role.PRIMARY, id=1)


def looks(rng: np.random.Generator, control_rate: float, treatment_rate: float) -> list[tuple[Sample, Sample]]:
    control = rng.binomial(USERS_PER_LOOK, control_rate, LOOKS).cumsum()
    treatment = rng.binomial(USERS_PER_LOOK, treatment_rate, LOOKS).cumsum()
    return [(Sample(USERS_PER_LOOK * (k + 1), float(c), float(c)), Sample(USERS_PER_LOOK * (k + 1), float(t), float(t)))
            for k, (c, t) in enumerate(zip(control, treatment, strict=True))]


def ever_significant(settings: AnalysisSettings, experiment: list[tuple[Sample, Sample]]) -> bool:
    pair = Pair(CONVERSION, "treatment", Looks.of(experiment), in_family=True)
    return any(a.verdicts[0].significant for a in analyse_over_time(settings, "control", [pair], list(range(LOOKS))))


SEQUENTIAL = AnalysisSettings(sequential_effect=0.1)
T_TEST = AnalysisSettings(test_type="ttest")


def test_a_a_experiments_looked_at_ten_times__sequential_stays_within_alpha_and_the_t_test_does_not() -> None:
    rng = np.random.default_rng(19)
    experiments = [looks(rng, 0.10, 0.10) for _ in range(EXPERIMENTS)]
    sequential = sum(ever_significant(SEQUENTIAL, e) for e in experiments) / EXPERIMENTS
    t_test = sum(ever_significant(T_TEST, e) for e in experiments) / EXPERIMENTS
    assert sequential <= ALPHA + BAND
    assert t_test > ALPHA + BAND  # peeking at a fixed-horizon test: several times α


def test_a_real_lift__found_by_the_sequential_test() -> None:
    rng = np.random.default_rng(20)
    found = sum(ever_significant(SEQUENTIAL, looks(rng, 0.10, 0.12)) for _ in range(200)) / 200
    assert found > 0.9


def test_the_p_value_over_time_never_rises_and_the_last_point_is_the_headline() -> None:
    experiment = looks(np.random.default_rng(3), 0.10, 0.11)
    pair = Pair(CONVERSION, "treatment", Looks.of(experiment), in_family=True)
    series = analyse_over_time(SEQUENTIAL, "control", [pair], list(range(LOOKS)))
    p_values = [a.verdicts[0].p_value for a in series]
    assert p_values == sorted(p_values, reverse=True)
    assert series[-1].verdicts[0] == analyse(SEQUENTIAL, "control", [pair]).verdicts[0]
    # τ is fixed at the first look (every look meets the minimums) from control's mean there
    control_mean = experiment[0][0].mean
    assert [a.verdicts[0].tau_squared for a in series] == [pytest.approx((0.1 * control_mean) ** 2)] * LOOKS


@pytest.mark.parametrize(("correction", "method"), [
    ("bonferroni", "bonferroni"), ("holm", "holm"), ("benjamini-hochberg", "fdr_bh")])
def test_family__treatments_times_metrics__adjusted_as_statsmodels_and_guardrails_apart(
        correction: str, method: str) -> None:
    rng = np.random.default_rng(5)
    secondary = Metric(event_type="signup", kind=MetricKind.CONVERSION, role=Role.SECONDARY, id=2)
    guardrail = Metric(event_type="refund", kind=MetricKind.CONVERSION, role=Role.GUARDRAIL,
                       direction=Direction.DECREASE, non_inferiority_margin=0.1, id=3)
    pairs = [Pair(metric, variant, Looks.of(looks(rng, 0.1, rate)), metric.role is not Role.GUARDRAIL)
             for metric in (CONVERSION, secondary, guardrail)
             for variant, rate in (("a", 0.104), ("b", 0.11))]
    analysis = analyse(AnalysisSettings(test_type="ttest", multiple_testing=correction), "control", pairs)  # type: ignore[arg-type]
    family = [v for v in analysis.verdicts if v.metric.role is not Role.GUARDRAIL]
    assert analysis.family_size == 4
    expected = multipletests([v.p_value for v in family], method=method)[1]
    assert [v.adjusted_p_value for v in family] == pytest.approx(list(expected), rel=1e-12)
    assert all(v.significant == (v.adjusted_p_value < ALPHA) for v in family)
    guard = [v for v in analysis.verdicts if v.metric is guardrail]
    assert all(v.adjusted_p_value is None and v.interval_level == pytest.approx(0.95) for v in guard)


def test_guardrail__harm_false_within_margin_true_beyond_zero_null_in_between() -> None:
    metric = Metric(event_type="latency", kind=MetricKind.MEAN, property="ms", role=Role.GUARDRAIL,
                    direction=Direction.DECREASE, non_inferiority_margin=0.05, id=4)

    def harm(treatment_mean: float, sd: float) -> bool | None:
        n = 10_000
        control = Sample(n, 100.0 * n, (100.0**2 + sd**2) * n)
        treatment = Sample(n, treatment_mean * n, (treatment_mean**2 + sd**2) * n)
        pair = Pair(metric, "t", Looks.of([(control, treatment)]), in_family=False)
        return analyse(T_TEST, "control", [pair]).verdicts[0].harm

    assert harm(100.0, 10) is False  # latency unchanged: well within +5 ms
    assert harm(110.0, 10) is True  # 10 % slower, clearly
    assert harm(103.0, 300) is None  # too noisy to tell either way


REVENUE = Metric(event_type="purchase", kind=MetricKind.MEAN, property="revenue", role=Role.PRIMARY, id=5)


def correlated_looks(rng: np.random.Generator, lift: float, users: int = 300) -> list[tuple[Sample, Sample]]:
    """Cumulative per-variant sums of revenue (y) that follows last week's revenue (x)."""
    looks, sums = [], {v: np.zeros(6) for v in ("c", "t")}
    for _ in range(LOOKS):
        for variant in ("c", "t"):
            x = rng.gamma(2.0, 10.0, users)
            y = 0.7 * x + rng.normal(lift if variant == "t" else 0.0, 4.0, users)
            sums[variant] += (users, y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum())
        looks.append(tuple(Sample(int(s[0]), s[1], s[2], Covariate(s[3], s[4], s[5])) for s in (sums["c"], sums["t"])))
    return looks  # type: ignore[return-value]


def cuped_pair(looks: list[tuple[Sample, Sample]]) -> Pair:
    return Pair(REVENUE, "treatment", Looks.of(looks), True, np.array([pooled_theta(look) for look in looks]))


CUPED = AnalysisSettings(sequential_effect=0.05, cuped=True)


def test_cuped__a_a_experiments_looked_at_ten_times__sequential_stays_within_alpha() -> None:
    rng = np.random.default_rng(21)
    runs = 300
    flagged = sum(any(a.verdicts[0].significant for a in analyse_over_time(
        CUPED, "control", [cuped_pair(correlated_looks(rng, 0.0))], list(range(LOOKS)))) for _ in range(runs))
    assert flagged / runs <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / runs)


def test_cuped__correlated_covariate__narrower_interval_and_the_removed_variance_said() -> None:
    looks = correlated_looks(np.random.default_rng(22), lift=1.0)
    with_cuped = analyse(CUPED, "control", [cuped_pair(looks)]).verdicts[0]
    without = analyse(AnalysisSettings(sequential_effect=0.05), "control",
                      [Pair(REVENUE, "treatment", Looks.of(looks), True)]).verdicts[0]
    assert with_cuped.interval is not None and without.interval is not None
    width = with_cuped.interval[1] - with_cuped.interval[0]
    assert width < 0.5 * (without.interval[1] - without.interval[0])
    assert with_cuped.variance_reduction is not None and with_cuped.variance_reduction > 0.7
    assert with_cuped.std_error == pytest.approx(math.sqrt(1 - with_cuped.variance_reduction) * without.std_error)
    assert with_cuped.significant and with_cuped.better  # a lift of 1 on a spread of 4 shows

"""Multiple-testing corrections against published vectors and statsmodels' multipletests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from flagyard.measure.multiple_testing import Correction, adjusted_p_values, interval_alpha

STATSMODELS_NAMES: dict[Correction, str] = {"bonferroni": "bonferroni", "holm": "holm", "benjamini-hochberg": "fdr_bh"}

p_value_lists = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=30)


def test_holm__growthbook_vector__published_adjusted_values() -> None:
    adjusted = adjusted_p_values([0.01, 0.04, 0.03, 0.005, 0.55, 0.6], "holm")
    assert adjusted == pytest.approx([0.05, 0.12, 0.12, 0.03, 1, 1], abs=1e-12)


def test_benjamini_hochberg__growthbook_vector__published_adjusted_values() -> None:
    adjusted = adjusted_p_values([0.898, 0.138, 0.007, 0.964, 0.538, 0.006, 0.138], "benjamini-hochberg")
    assert adjusted == pytest.approx([0.964, 0.2415, 0.0245, 0.964, 0.7532, 0.0245, 0.2415], abs=1e-4)


def test_bonferroni__three_comparisons__p_times_three_capped_at_one() -> None:
    assert adjusted_p_values([0.01, 0.2, 0.5], "bonferroni") == pytest.approx([0.03, 0.6, 1.0])


def test_none__raw_values_returned_unchanged() -> None:
    assert adjusted_p_values([0.3, 0.01, 0.04], "none") == [0.3, 0.01, 0.04]


@pytest.mark.parametrize("correction", sorted(STATSMODELS_NAMES))
# statsmodels' holm runs a full garbage collection per call (about 20 ms): fewer examples.
@settings(max_examples=60)
@given(p_values=p_value_lists)
def test_adjusted_p_values__random_families__equal_statsmodels(correction: Correction, p_values: list[float]) -> None:
    _, expected, _, _ = multipletests(p_values, method=STATSMODELS_NAMES[correction])
    assert adjusted_p_values(p_values, correction) == pytest.approx(list(expected), abs=1e-12)


@pytest.mark.parametrize("correction", ["bonferroni", "holm", "benjamini-hochberg"])
@given(p_values=p_value_lists)
def test_adjusted_p_values__any_family__keep_the_raw_order_and_never_lower_a_p_value(
        correction: Correction, p_values: list[float]) -> None:
    adjusted = adjusted_p_values(p_values, correction)
    for raw_a, adj_a in zip(p_values, adjusted, strict=True):
        assert raw_a <= adj_a <= 1.0
        for raw_b, adj_b in zip(p_values, adjusted, strict=True):
            if raw_a < raw_b:
                assert adj_a <= adj_b


def test_holm__never_larger_than_bonferroni_and_bh_never_larger_than_holm() -> None:
    family = [0.001, 0.012, 0.02, 0.03, 0.2]
    bonferroni = adjusted_p_values(family, "bonferroni")
    holm = adjusted_p_values(family, "holm")
    bh = adjusted_p_values(family, "benjamini-hochberg")
    assert all(h <= b for h, b in zip(holm, bonferroni, strict=True))
    assert all(f <= h for f, h in zip(bh, holm, strict=True))
    # And the difference matters: at α 0.05 Bonferroni keeps one winner, Holm two, BH four.
    assert [sum(p < 0.05 for p in ps) for ps in (bonferroni, holm, bh)] == [1, 2, 4]


def test_adjusted_p_values__empty_family__empty() -> None:
    assert adjusted_p_values([], "holm") == []


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_adjusted_p_values__not_a_probability__refused(bad: float) -> None:
    with pytest.raises(ValueError):
        adjusted_p_values([0.01, bad], "benjamini-hochberg")


def test_adjusted_p_values__unknown_correction__refused() -> None:
    with pytest.raises(ValueError):
        adjusted_p_values([0.01], "sidak")  # type: ignore[arg-type]


def test_interval_alpha__bonferroni_over_four_pairs__alpha_over_four() -> None:
    assert interval_alpha(0.05, 4, "bonferroni") == pytest.approx(0.0125)


@pytest.mark.parametrize("correction", ["none", "holm", "benjamini-hochberg"])
def test_interval_alpha__other_corrections__intervals_at_alpha(correction: Correction) -> None:
    assert interval_alpha(0.05, 4, correction) == 0.05

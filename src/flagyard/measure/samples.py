"""A metric's per-user values in one variant, as the statistics take them, from its sums."""

from __future__ import annotations

import numpy as np

from flagyard.measure.model.metrics import MetricKind
from flagyard.measure.ports import VariantTotals
from flagyard.measure.statistics import Covariate, Sample, SampleSeries


def metric_sample(totals: VariantTotals | None, kind: MetricKind) -> Sample:
    """One variant's per-user values of the metric (y), with CUPED's covariate (x) beside them:
    for a conversion metric both are 0/1, so Σy² = Σy, Σx² = Σx and Σxy counts users with both."""
    if totals is None:
        return Sample(0, 0.0, 0.0)
    t = totals
    if kind is MetricKind.CONVERSION:
        return Sample(t.users, float(t.converters), float(t.converters),
                      Covariate(float(t.pre_users), float(t.pre_users), float(t.cross_users)))
    if kind is MetricKind.COUNT:
        return Sample(t.users, t.count_sum, t.count_squares,
                      Covariate(t.pre_count_sum, t.pre_count_squares, t.cross_count))
    return Sample(t.users, t.total_sum, t.total_squares,
                  Covariate(t.pre_total_sum, t.pre_total_squares, t.cross_total))


# Columns of a SumsHistory row (sums.RESULT_SUMS): the metric's y and its covariate x, per kind.
_Y = {MetricKind.CONVERSION: (0, 0), MetricKind.COUNT: (1, 2), MetricKind.MEAN: (3, 4)}
_X = {MetricKind.CONVERSION: (5, 5, 10), MetricKind.COUNT: (6, 7, 11), MetricKind.MEAN: (8, 9, 12)}


def metric_series(sums: np.ndarray, exposed: np.ndarray, kind: MetricKind) -> SampleSeries:
    """`metric_sample` at every look: `sums` are the metric key's cumulative sums of one
    variant, `exposed` the same variant's under "" (its first column: every exposed user)."""
    total, squares = _Y[kind]
    x, xx, xy = _X[kind]
    return SampleSeries(exposed[:, 0], sums[:, total], sums[:, squares], (sums[:, x], sums[:, xx], sums[:, xy]))

"""A metric's per-user values in one variant, as the statistics take them, from its sums."""

from __future__ import annotations

from flagyard.measure.model.metrics import MetricKind
from flagyard.measure.ports import VariantTotals
from flagyard.measure.statistics import Covariate, Sample


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

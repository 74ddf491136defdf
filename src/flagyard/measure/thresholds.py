"""How much data a comparison needs before any figure is shown (the sample needed to find an
effect is `duration.py`'s).

Minimum samples (Amplitude's rule): below them a p-value or an interval is mostly noise of the
approximations (a normal difference of means, a plug-in variance), so the result says what is
missing instead. A conversion metric needs 25 conversions and 100 exposed users in each
compared variant; a mean or count metric needs 100 exposed users in each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flagyard.measure.model.metrics import MetricKind
from flagyard.measure.statistics import Sample

MIN_EXPOSURES = 100
MIN_CONVERSIONS = 25


@dataclass(frozen=True)
class UnmetThreshold:
    """The first minimum a variant has not reached yet."""

    variant: str
    quantity: str  # "exposures" or "conversions"
    observed: int
    required: int

    @property
    def reason(self) -> str:
        return (f"{self.variant} has {self.observed} of the {self.required} "
                f"{self.quantity} needed before results are shown")


def unmet_threshold(kind: MetricKind, samples: Mapping[str, Sample]) -> UnmetThreshold | None:
    """The first variant, in the order given, short of a minimum; None when all are met.

    `samples` holds the compared variants (control and the treatment). Exposures are checked
    before conversions: a variant short of users is short of conversions for that reason.
    """
    for variant, sample in samples.items():
        if sample.n < MIN_EXPOSURES:
            return UnmetThreshold(variant, "exposures", sample.n, MIN_EXPOSURES)
    if kind is MetricKind.CONVERSION:
        for variant, sample in samples.items():
            # A conversion metric's value is 0 or 1 per user: its total is the conversions.
            conversions = round(sample.total)
            if conversions < MIN_CONVERSIONS:
                return UnmetThreshold(variant, "conversions", conversions, MIN_CONVERSIONS)
    return None

"""Facts about running experiments worth announcing: a sample ratio mismatch, and a treatment
that became significant on the primary metric (read exactly as GET …/results reads them: the
experiment's own settings, corrections and minimum samples)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagyard.errors import DomainError
from flagyard.manage.model.access import OPERATOR
from flagyard.measure.model.metrics import Role
from flagyard.measure.ports import ResultsReaderFactory
from flagyard.measure.results import MetricQuery, ResultsService

SRM_DETECTED = "experiment.srm_detected"
SIGNIFICANT = "experiment.significant"


@dataclass(frozen=True)
class Finding:
    flag_id: int
    event_type: str
    data: dict[str, Any]


class ResultsWatch:
    def __init__(self, results: ResultsService, readers: ResultsReaderFactory) -> None:
        self._results = results
        self._readers = readers

    def findings(self) -> list[Finding]:
        """What the running experiments' primary metrics show now (announced once each, by the
        caller)."""
        with self._readers() as reader:
            primaries = {flag_id: metric for flag_id in reader.experiments_with_metrics()
                         for metric in reader.metrics(flag_id) if metric.role is Role.PRIMARY}
        found = []
        for flag_id, metric in sorted(primaries.items()):
            try:
                document = self._results.results(OPERATOR, flag_id, MetricQuery(None, None, None, metric.id))
            except DomainError:  # archived or deleted meanwhile
                continue
            if document["state"] != "running":
                continue
            found += _facts(flag_id, document)
        return found


def _facts(flag_id: int, document: dict[str, Any]) -> list[Finding]:
    metric = document["metric"]
    facts = []
    srm = document["srm"]
    if srm["mismatch"]:
        facts.append(Finding(flag_id, SRM_DETECTED, {
            "metric": metric, "pValue": srm["pValue"], "expectedShares": srm["expectedShares"],
            "exposures": {v["key"]: v["exposures"] for v in document["variants"]}, "warning": srm["warning"]}))
    winners = [v for v in document["variants"] if v.get("significant")]
    if winners:
        facts.append(Finding(flag_id, SIGNIFICANT, {
            "metric": metric, "analysis": document["analysis"],
            "variants": [{key: v[key] for key in ("key", "difference", "ci", "ciLevel", "pValue", "adjustedPValue",
                                                   "better")} for v in winners]}))
    return facts

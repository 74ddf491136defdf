"""Announces what running experiments' results show (SRM, significance) to webhooks, once each."""

from __future__ import annotations

from flagyard.api.jobs.periodic import PeriodicJob
from flagyard.manage.services import ManageServices
from flagyard.measure.results_watch import Finding
from flagyard.measure.services import MeasureServices


class ResultsWatchJob(PeriodicJob):
    """Every `every_seconds`, reads the running experiments' results and hands each finding to
    the manage wing, whose notice row makes it announced once across processes."""

    name = "flagyard-results-watch"
    failure = "watching results failed"

    def __init__(self, measure: MeasureServices, manage: ManageServices, every_seconds: float) -> None:
        super().__init__(every_seconds)
        self._measure = measure
        self._manage = manage

    def run_once(self) -> list[Finding]:
        announced = []
        for finding in self._measure.watch.findings():
            if self._manage.webhooks.notify_once(finding.flag_id, finding.event_type, finding.data):
                announced.append(finding)
        return announced

"""Writes the flag evaluations each process counted (serve/usage.py) every few seconds, and
once more when the server stops."""

from __future__ import annotations

from flagyard.api.jobs.periodic import PeriodicJob
from flagyard.serve.usage import UsageCounter


class UsageFlushJob(PeriodicJob):
    name = "flagyard-usage"
    failure = "writing flag usage failed"

    def __init__(self, usage: UsageCounter, every_seconds: float) -> None:
        super().__init__(every_seconds)
        self._usage = usage

    def run_once(self) -> int:
        return self._usage.flush()

    def stop(self) -> None:
        super().stop()
        try:
            self._usage.flush()
        except Exception:
            self._log.exception(self.failure)

"""Applies scheduled changes and ramp steps when they are due, as versions by the scheduler."""

from __future__ import annotations

from flagyard.api.jobs.periodic import PeriodicJob
from flagyard.manage.schedules import Fired
from flagyard.manage.services import ManageServices


class ScheduleJob(PeriodicJob):
    """Every `every_seconds`, asks the manage wing to apply the steps that are due. Each process
    runs one; the step's claim makes exactly one of them apply it. The first pass runs at
    start-up, so steps that fell due while no server ran are applied then (marked late)."""

    name = "flagyard-schedules"
    failure = "applying scheduled changes failed"

    def __init__(self, manage: ManageServices, every_seconds: float) -> None:
        super().__init__(every_seconds)
        self._manage = manage

    def run_once(self) -> list[Fired]:
        return self._manage.schedules.fire_due()

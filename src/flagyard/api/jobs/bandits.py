"""Rewrites each running bandit's traffic split on its schedule, as a version by the system."""

from __future__ import annotations

import logging

from flagyard.api.jobs.periodic import PeriodicJob
from flagyard.errors import DomainError
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Kind
from flagyard.manage.services import ManageServices
from flagyard.measure.bandits import Reallocation
from flagyard.measure.services import MeasureServices

# The author of every reallocation in the experiment's history.
BANDIT = Principal(key_id=0, name="flagyard-bandit", project_ids=None, read_only=False, bypasses_approval=True)

log = logging.getLogger("flagyard.bandits")


class BanditJob(PeriodicJob):
    """Every `every_seconds`, asks which bandits are due and writes their new weights. Each
    process runs one; the measure wing's claim makes each interval's reallocation happen once."""

    name = "flagyard-bandits"
    failure = "bandit reallocation failed"

    def __init__(self, measure: MeasureServices, manage: ManageServices, every_seconds: float) -> None:
        super().__init__(every_seconds)
        self._measure = measure
        self._manage = manage

    def run_once(self) -> list[Reallocation]:
        written = []
        for reallocation in self._measure.bandits.due():
            try:
                self._manage.flags.set_rollout_weights(BANDIT, Kind.EXPERIMENT, reallocation.flag_id,
                                                       reallocation.weights)
            except DomainError as refused:  # archived or decided since it was claimed
                log.info("bandit %s not reallocated: %s", reallocation.flag_id, refused.message)
                continue
            written.append(reallocation)
        return written

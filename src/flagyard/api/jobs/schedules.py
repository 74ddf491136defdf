"""Applies scheduled changes and ramp steps when they are due, as versions by the scheduler."""

from __future__ import annotations

import logging
import threading

from flagyard.manage.schedules import Fired
from flagyard.manage.services import ManageServices

log = logging.getLogger("flagyard.schedules")


class ScheduleJob:
    """Every `every_seconds`, asks the manage wing to apply the steps that are due. Each process
    runs one; the step's claim makes exactly one of them apply it. The first pass runs at
    start-up, so steps that fell due while no server ran are applied then (marked late)."""

    def __init__(self, manage: ManageServices, every_seconds: float) -> None:
        self._manage = manage
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._every <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="flagyard-schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run_once(self) -> list[Fired]:
        return self._manage.schedules.fire_due()

    def _run(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception:  # the database may be away; the next pass tries again
                log.exception("applying scheduled changes failed")
            if self._stop.wait(self._every):
                return

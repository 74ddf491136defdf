"""A daemon thread that runs one job's pass every so often, until the server stops."""

from __future__ import annotations

import logging
import threading
from typing import Any


class PeriodicJob:
    """Runs `run_once` at start-up and then every `every_seconds` (0: never). A pass that fails
    is logged and the next one tries again (the database may be away for a while). A subclass
    whose `run_once` returns something true (work was done, more may be waiting) runs again at
    once."""

    name = "flagyard-job"
    failure = "a background job failed"
    join_seconds = 5.0
    keeps_going = False  # whether a pass that did work is followed at once by another

    def __init__(self, every_seconds: float) -> None:
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.getLogger(f"flagyard.{self.name.removeprefix('flagyard-')}")

    def start(self) -> None:
        if self._every <= 0:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.join_seconds)

    def run_once(self) -> Any:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                busy = bool(self.run_once()) and self.keeps_going
            except Exception:
                self._log.exception(self.failure)
            if not busy and self._stop.wait(self._every):
                return

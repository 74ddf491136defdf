"""Checkpoints of SQLite's write-ahead log, run from their own thread.

By default the connection whose commit pushes the log past 1,000 pages copies it back into the
database file, inside that commit. For the event writer that was about half of every commit's
time (profiled). Its connection turns automatic checkpoints off and pokes this thread instead,
which runs a PASSIVE checkpoint (it never blocks readers or the writer) on its own connection;
the copy runs in SQLite's C code, without the GIL, beside the writer's next group.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

log = logging.getLogger("flagyard.events")
# At most one checkpoint a second however busy the writer is: a page the writer changes again
# and again (an index's, a user's exposure row's) is copied back once per checkpoint, and five a
# second cost about 7 % of ingestion's throughput against one (alternating benchmark runs).
PAUSE_SECONDS = 1.0


class WalCheckpointer:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._due = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def poke(self) -> None:
        """A commit happened: checkpoint soon."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="flagyard-wal-checkpoint",
                                                    daemon=True)
                    self._thread.start()
        self._due.set()

    def close(self) -> None:
        self._stop.set()
        self._due.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.checkpoint()

    def checkpoint(self) -> None:
        try:
            with self._engine.connect() as connection:
                driver = connection.connection.dbapi_connection
                assert driver is not None
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception:  # noqa: BLE001 - the next checkpoint (or SQLite's own) catches up
            log.warning("WAL checkpoint failed", exc_info=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._due.wait()
            self._due.clear()
            if self._stop.is_set():
                return
            self.checkpoint()
            self._stop.wait(PAUSE_SECONDS)

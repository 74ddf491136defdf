"""From "project P changed" to fresh snapshots and woken streams, off the request path.

Changes arrive from this process's own commits and from the change feed (other processes, via
the database). One thread per process takes them in batches, re-checks the deployments this
process serves in those projects, and tells the subscribers (the stream hub) which deployment
keys to look at. While the database is unreachable it retries every second, and the snapshots
already held keep being served.

Before any of that, the same thread builds every deployment's snapshot (`built` says when it
has): /ready answers 503 until then, so a process takes traffic only once a first request
costs what any request costs. Changes reported meanwhile wait in the queue and are
re-checked right after.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from flagyard.errors import DomainError, Unavailable
from flagyard.serve.snapshot_cache import SnapshotCache

ChangeCallback = Callable[[frozenset[int] | None], None]
KeysCallback = Callable[[frozenset[str]], None]

RETRY_SECONDS = 1.0
# At most this often a round of rebuilds and stream pushes, however fast writes come: at 10,000
# flags every push sends megabytes to each stream, and with one round per write a stream
# cost writes half their rate (benchmarks/write_throughput.py). Requests do not wait for a
# round: a change invalidates their snapshot at once and the next request re-checks it.
ROUND_SECONDS = 0.05
# ...and further apart when a round cost the propagator's thread more than ROUND_SHARE of the
# gap, up to LONGEST_ROUND_SECONDS, so a write still waits at most that long for its round. A
# round's cost grows with the deployment (at 10,000 flags: a rebuild of 5-9 ms CPU, then a 7 MB
# body joined and copied on the event loop for the streams): at twenty rounds a second it took
# a third of what writes could use; paced by its cost, writes/s rose a quarter (ADR 0108).
ROUND_SHARE = 0.1
LONGEST_ROUND_SECONDS = 0.08

log = logging.getLogger("flagyard.changes")


class ChangeFeed(Protocol):
    """Calls back with the ids of projects another process changed; None: re-check all."""

    connected: bool

    def start(self, on_change: ChangeCallback) -> None: ...
    def stop(self) -> None: ...


class Propagator:
    def __init__(self, evaluation: SnapshotCache, feed: ChangeFeed | None = None, *,
                 first_build: Callable[[], AbstractContextManager[Any]] = nullcontext,
                 round_seconds: float = ROUND_SECONDS) -> None:
        self._evaluation = evaluation
        self._feed = feed
        # Wraps the first build: the composition root pauses the cycle collector for it.
        self._first_build = first_build
        self._built = threading.Event()
        self._subscribers: list[KeysCallback] = []
        self._pending: set[int] = set()
        self._everything = False
        self._wakeup = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._round_seconds = round_seconds
        self._gap = round_seconds  # between the starts of two rounds, from the last one's cost
        self._last_round = -math.inf

    @property
    def listening(self) -> bool:
        """True when changes made by other processes reach this one as they happen."""
        return self._feed is None or self._feed.connected

    @property
    def built(self) -> bool:
        """True once every deployment's snapshot has been built (after `start`)."""
        return self._built.is_set()

    def wait_built(self, timeout: float | None = None) -> bool:
        return self._built.wait(timeout)

    def subscribe(self, callback: KeysCallback) -> None:
        self._subscribers.append(callback)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="flagyard-propagator", daemon=True)
        self._thread.start()
        if self._feed is not None:
            self._feed.start(self.changed)

    def stop(self) -> None:
        if self._feed is not None:
            self._feed.stop()
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def changed(self, project_ids: Iterable[int] | None) -> None:
        """Any thread: these projects changed (None: any may have). Returns at once."""
        ids = None if project_ids is None else frozenset(project_ids)
        # Requests from here on re-check instead of serving what may be old.
        self._evaluation.invalidate(ids)
        with self._wakeup:
            if ids is None:
                self._everything = True
            else:
                self._pending |= ids
            self._wakeup.notify()

    def _run(self) -> None:
        self._build_all()
        while True:
            with self._wakeup:
                retry = bool(self._evaluation.unreachable_keys())
                if not self._stopped and not self._pending and not self._everything:
                    self._wakeup.wait(RETRY_SECONDS if retry else None)
                # Changes that come meanwhile join this round.
                while not self._stopped and (
                        wait := self._last_round + self._gap - time.monotonic()) > 0:
                    self._wakeup.wait(wait)
                if self._stopped:
                    return
                self._last_round = time.monotonic()
                projects: frozenset[int] | None = (
                    None if self._everything else frozenset(self._pending))
                self._pending.clear()
                self._everything = False
            keys = set(self._evaluation.keys_for(projects)) if projects != frozenset() else set()
            keys |= set(self._evaluation.unreachable_keys())
            if keys:
                # CPU time, not wall time: waiting for the GIL while writers run is no cost.
                started = time.thread_time()
                self._refresh(keys)
                cost = time.thread_time() - started
                self._gap = max(self._round_seconds, min(LONGEST_ROUND_SECONDS, cost / ROUND_SHARE))

    def _build_all(self) -> None:
        while True:
            started = time.monotonic()
            try:
                with self._first_build():
                    count = self._evaluation.build_all()
            except Unavailable:  # the database is unreachable: try again
                with self._wakeup:
                    if self._stopped:
                        return
                    self._wakeup.wait(RETRY_SECONDS)
                    if self._stopped:
                        return
                continue
            except Exception:  # never keep the process unready for a fault of the build itself
                log.exception("building the deployments' snapshots failed")
            else:
                log.info("built the snapshots of %d deployments in %.2f s", count,
                         time.monotonic() - started)
            self._built.set()
            return

    def _refresh(self, keys: set[str]) -> None:
        for key in keys:
            try:
                self._evaluation.refresh(key)
            except DomainError:
                pass  # the key was archived (its streams close) or the database is unreachable
            except Exception:  # never let one bad deployment stop propagation for all
                log.exception("refreshing a deployment's flags failed")
        done = frozenset(keys)
        for callback in self._subscribers:
            try:
                callback(done)
            except Exception:
                log.exception("a change subscriber failed")

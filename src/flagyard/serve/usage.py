"""Flag usage: how often and when each flag was last evaluated, counted in the serving path.

A remote evaluation adds one to a counter of the flags it evaluated; the counters live in
memory and a background job flushes them (`flush`) every few seconds as sums per flag,
deployment and UTC day. The serving path's cost stays one dictionary update per request
whatever the number of flags: a request that evaluates every deployed flag counts against the
snapshot's tuple of deployed keys (one object per build), and the keys are spread over flags
only when flushing. Counts not yet flushed when a process dies are lost: usage is a figure to
find unused flags, not a record.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UsageCount:
    """Evaluations of one flag (by key) of a project through one deployment on one day."""

    project_id: int
    deployment_id: int
    flag_key: str
    day: date
    evaluations: int
    last_evaluated_at: datetime


class UsageWriter(Protocol):
    """Adds counts to the stored sums (store/serve/usage_writer.py)."""

    def __call__(self, counts: Sequence[UsageCount]) -> None: ...


class _Tally:
    __slots__ = ("project_id", "deployment_id", "keys", "evaluations", "last")

    def __init__(self, project_id: int, deployment_id: int, keys: tuple[str, ...]) -> None:
        self.project_id = project_id
        self.deployment_id = deployment_id
        self.keys = keys  # held, so the id it is filed under stays this tuple's
        self.evaluations = 0
        self.last = 0.0


class UsageCounter:
    def __init__(self, writer: UsageWriter, now: Callable[[], float] = time.time) -> None:
        self._writer = writer
        self._now = now
        self._lock = threading.Lock()  # requests count on the event loop, the job flushes
        self._whole: dict[tuple[int, int], _Tally] = {}  # (deployment id, id(keys))
        self._single: dict[tuple[int, str], _Tally] = {}  # (deployment id, flag key)

    def count_all(self, project_id: int, deployment_id: int, keys: tuple[str, ...]) -> None:
        """One evaluation of every flag in `keys`: a build's deployed keys, the same tuple
        for every request while the flags stay the same."""
        at = self._now()
        with self._lock:
            tally = self._whole.get((deployment_id, id(keys)))
            if tally is None:
                tally = self._whole[(deployment_id, id(keys))] = _Tally(project_id, deployment_id, keys)
            tally.evaluations += 1
            tally.last = at

    def count_each(self, project_id: int, deployment_id: int, keys: Iterable[str]) -> None:
        """One evaluation of each flag in `keys` (a request naming its flags)."""
        at = self._now()
        with self._lock:
            for key in keys:
                tally = self._single.get((deployment_id, key))
                if tally is None:
                    tally = self._single[(deployment_id, key)] = _Tally(project_id, deployment_id, (key,))
                tally.evaluations += 1
                tally.last = at

    def flush(self) -> int:
        """Writes what was counted since the last flush; returns how many flag counts. Counts
        the writer refuses (the database away) are kept for the next flush."""
        with self._lock:
            tallies = [*self._whole.values(), *self._single.values()]
            self._whole, self._single = {}, {}
        counts = _per_flag(tallies)
        if not counts:
            return 0
        try:
            self._writer(counts)
        except BaseException:
            self._restore(tallies)
            raise
        return len(counts)

    def _restore(self, tallies: list[_Tally]) -> None:
        with self._lock:
            for tally in tallies:
                for key in tally.keys:
                    kept = self._single.get((tally.deployment_id, key))
                    if kept is None:
                        kept = self._single[(tally.deployment_id, key)] = _Tally(
                            tally.project_id, tally.deployment_id, (key,))
                    kept.evaluations += tally.evaluations
                    kept.last = max(kept.last, tally.last)


def _per_flag(tallies: list[_Tally]) -> list[UsageCount]:
    """The tallies as counts per flag and deployment; a tally's day is its last evaluation's
    (a flush every few seconds puts at most those seconds on the wrong side of midnight)."""
    summed: dict[tuple[int, int, str, date], list[float]] = defaultdict(lambda: [0, 0.0])
    for tally in tallies:
        day = datetime.fromtimestamp(tally.last, UTC).date()
        for key in tally.keys:
            entry = summed[(tally.project_id, tally.deployment_id, key, day)]
            entry[0] += tally.evaluations
            entry[1] = max(entry[1], tally.last)
    return [UsageCount(project_id, deployment_id, key, day, int(evaluations),
                       datetime.fromtimestamp(last, UTC))
            for (project_id, deployment_id, key, day), (evaluations, last) in summed.items()]

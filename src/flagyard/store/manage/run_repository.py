"""Which experiment is a new run of which (experiment_runs)."""

from __future__ import annotations

import sqlalchemy as sa

from flagyard.store.tables import experiment_runs

# A chain longer than this is a loop that cannot happen; the walk stops rather than spin.
_MAX_RUNS = 1000


class RunRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def link(self, flag_id: int, previous_id: int) -> None:
        self._conn.execute(sa.insert(experiment_runs).values(flag_id=flag_id, previous_id=previous_id))

    def chain(self, flag_id: int) -> list[int]:
        """The ids of every run of the experiment `flag_id` belongs to, oldest first."""
        earlier: list[int] = []
        current = flag_id
        while len(earlier) < _MAX_RUNS:
            previous = self._conn.execute(sa.select(experiment_runs.c.previous_id)
                                          .where(experiment_runs.c.flag_id == current)).scalar()
            if previous is None:
                break
            earlier.append(previous)
            current = previous
        later: list[int] = []
        current = flag_id
        while len(later) < _MAX_RUNS:
            following = self._conn.execute(sa.select(experiment_runs.c.flag_id)
                                           .where(experiment_runs.c.previous_id == current)).scalar()
            if following is None:
                break
            later.append(following)
            current = following
        return [*reversed(earlier), flag_id, *later]

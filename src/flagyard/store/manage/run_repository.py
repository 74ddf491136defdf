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
        earlier = self._walk(flag_id, experiment_runs.c.previous_id, experiment_runs.c.flag_id)
        later = self._walk(flag_id, experiment_runs.c.flag_id, experiment_runs.c.previous_id)
        return [*reversed(earlier), flag_id, *later]

    def _walk(self, start: int, step: sa.Column[int], by: sa.Column[int]) -> list[int]:
        """Follow the links from `start`: each next id is `step` of the row whose `by` is the
        current one."""
        found: list[int] = []
        current = start
        while len(found) < _MAX_RUNS:
            following = self._conn.execute(sa.select(step).where(by == current)).scalar()
            if following is None:
                return found
            found.append(following)
            current = following
        return found

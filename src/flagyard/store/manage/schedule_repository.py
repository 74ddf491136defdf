"""Schedules and their steps; the conditional updates that make one process apply each step."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from flagyard.manage.model.schedules import DueStep, Schedule, ScheduleKind, Step, StepState
from flagyard.store.db import inserted_id
from flagyard.store.tables import schedule_steps, schedules

_PENDING = StepState.PENDING.value
_earlier = schedule_steps.alias("earlier")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _moment(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


class ScheduleRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def add(self, schedule: Schedule) -> int:
        schedule.id = inserted_id(self._conn.execute(sa.insert(schedules).values(
            flag_id=schedule.flag_id, project_id=schedule.project_id, name=schedule.name,
            kind=schedule.kind.value, created_by=schedule.created_by,
            created_at=_ms(schedule.created_at), cancelled_at=None)))
        for step in schedule.steps:
            step.schedule_id = schedule.id
            step.id = inserted_id(self._conn.execute(sa.insert(schedule_steps).values(
                schedule_id=schedule.id, position=step.position, at=_ms(step.at), patch=step.changes,
                state=step.state.value, applied_at=None, version=None, late=False, error=None)))
        return schedule.id

    def get(self, schedule_id: int) -> Schedule | None:
        rows = self._conn.execute(sa.select(schedules).where(schedules.c.id == schedule_id)).mappings().all()
        found = self._assemble(rows)
        return found[0] if found else None

    def for_flag(self, flag_id: int) -> list[Schedule]:
        rows = self._conn.execute(
            sa.select(schedules).where(schedules.c.flag_id == flag_id).order_by(schedules.c.id.desc())
        ).mappings().all()
        return self._assemble(rows)

    def count_pending(self, flag_id: int) -> int:
        query = (
            sa.select(sa.func.count(sa.distinct(schedule_steps.c.schedule_id)))
            .select_from(schedule_steps.join(schedules, schedules.c.id == schedule_steps.c.schedule_id))
            .where(schedules.c.flag_id == flag_id, schedule_steps.c.state == _PENDING)
        )
        return int(self._conn.execute(query).scalar_one())

    def due(self, now: datetime, limit: int) -> list[DueStep]:
        query = (
            sa.select(schedule_steps, schedules.c.flag_id)
            .join(schedules, schedules.c.id == schedule_steps.c.schedule_id)
            .where(schedule_steps.c.state == _PENDING, schedule_steps.c.at <= _ms(now))
            .order_by(schedule_steps.c.at, schedule_steps.c.schedule_id, schedule_steps.c.position)
            .limit(limit)
        )
        return [DueStep(_step(row), row["flag_id"]) for row in self._conn.execute(query).mappings()]

    def claim(self, step_id: int, applied_at: datetime, late: bool) -> bool:
        # A ramp's steps are applied in order, even when several are due at once (at start-up)
        # and several processes take one each: a step waits for the earlier ones to be done.
        step = schedule_steps.c
        earlier_pending = sa.exists().where(
            _earlier.c.schedule_id == step.schedule_id,
            _earlier.c.position < step.position,
            _earlier.c.state == _PENDING,
        )
        claimed = self._conn.execute(
            sa.update(schedule_steps)
            .where(step.id == step_id, step.state == _PENDING, ~earlier_pending)
            .values(state=StepState.APPLIED.value, applied_at=_ms(applied_at), late=late)
        )
        return claimed.rowcount == 1

    def record_version(self, step_id: int, version: int) -> None:
        self._conn.execute(
            sa.update(schedule_steps).where(schedule_steps.c.id == step_id).values(version=version))

    def fail(self, step_id: int, error: str) -> bool:
        failed = self._conn.execute(
            sa.update(schedule_steps)
            .where(schedule_steps.c.id == step_id, schedule_steps.c.state == _PENDING)
            .values(state=StepState.FAILED.value, error=error)
        )
        return failed.rowcount == 1

    def cancel(self, schedule_id: int, now: datetime) -> int:
        cancelled = self._conn.execute(
            sa.update(schedule_steps)
            .where(schedule_steps.c.schedule_id == schedule_id, schedule_steps.c.state == _PENDING)
            .values(state=StepState.CANCELLED.value)
        ).rowcount
        if cancelled:
            self._conn.execute(
                sa.update(schedules).where(schedules.c.id == schedule_id).values(cancelled_at=_ms(now)))
        return cancelled

    def _assemble(self, rows: Sequence[sa.RowMapping]) -> list[Schedule]:
        if not rows:
            return []
        steps: dict[int, list[Step]] = defaultdict(list)
        step_rows = self._conn.execute(
            sa.select(schedule_steps)
            .where(schedule_steps.c.schedule_id.in_([row["id"] for row in rows]))
            .order_by(schedule_steps.c.schedule_id, schedule_steps.c.position)
        ).mappings()
        for step_row in step_rows:
            steps[step_row["schedule_id"]].append(_step(step_row))
        return [
            Schedule(
                id=row["id"],
                flag_id=row["flag_id"],
                project_id=row["project_id"],
                name=row["name"],
                kind=ScheduleKind(row["kind"]),
                created_by=row["created_by"],
                created_at=_moment(row["created_at"]),  # type: ignore[arg-type]
                cancelled_at=_moment(row["cancelled_at"]),
                steps=steps[row["id"]],
            )
            for row in rows
        ]


def _step(row: sa.RowMapping) -> Step:
    return Step(
        id=row["id"],
        schedule_id=row["schedule_id"],
        position=row["position"],
        at=_moment(row["at"]),  # type: ignore[arg-type]
        changes=row["patch"],
        state=StepState(row["state"]),
        applied_at=_moment(row["applied_at"]),
        version=row["version"],
        late=bool(row["late"]),
        error=row["error"],
    )

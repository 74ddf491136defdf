"""Scheduled changes and ramps: make, list, cancel, and apply the steps that are due.

A step is applied by `fire_due`, which every server process calls every second or so. One unit
of work claims the step (a conditional update from pending) and edits the flag as a PATCH does,
so exactly one process applies it and the claim commits only with the version (ADR 0085).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from datetime import datetime

from flagyard.clock import Clock, utc_now
from flagyard.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from flagyard.manage.approvals import hold_schedule_for_review
from flagyard.manage.audit import record
from flagyard.manage.changes import load_flag
from flagyard.manage.edits import apply_edit, edit_flag
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.model.schedules import (
    DueStep,
    Plan,
    Schedule,
    StepState,
    check_pending_count,
    is_late,
    new_schedule,
    patch_document,
    scheduler,
    within,
)
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("flagyard.schedules")

# Steps taken per pass; more wait for the next pass, a second later.
DUE_PER_PASS = 100


@dataclass(frozen=True)
class Fired:
    """What became of a due step this process handled."""

    schedule_id: int
    step_id: int
    state: StepState
    version: int | None = None
    error: str | None = None


class ScheduleService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    def create(self, principal: Principal, kind: Kind, flag_id: int, plan: Plan) -> Schedule:
        """The new schedule, if its times are ahead and the flag would accept every step now;
        otherwise `Invalid` naming the field, and nothing stored."""
        principal.require_write()
        now = self._clock()
        with self._uow(write=True) as uow:
            # Locked, so the pending count and the rehearsal see the flag as the commit leaves it.
            flag = load_flag(uow, principal, kind, flag_id, for_update=True)
            schedule = add_schedule(uow, flag, plan, principal.name, now)
            # Checked first, so a change request never holds a schedule the flag would refuse.
            hold_schedule_for_review(uow, principal, flag, plan, now)
            uow.commit()
        return schedule

    def for_flag(self, principal: Principal, kind: Kind, flag_id: int) -> list[Schedule]:
        """The flag's schedules, newest first."""
        with self._uow() as uow:
            load_flag(uow, principal, kind, flag_id)
            return uow.schedules.for_flag(flag_id)

    def get(self, principal: Principal, kind: Kind, flag_id: int, schedule_id: int) -> Schedule:
        with self._uow() as uow:
            load_flag(uow, principal, kind, flag_id)
            return _of_flag(uow.schedules.get(schedule_id), flag_id, schedule_id)

    def cancel(self, principal: Principal, kind: Kind, flag_id: int, schedule_id: int) -> Schedule:
        """Cancel the schedule's pending steps; `Conflict` if none is left (it has finished)."""
        principal.require_write()
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_flag(uow, principal, kind, flag_id)
            _of_flag(uow.schedules.get(schedule_id), flag_id, schedule_id)
            if not uow.schedules.cancel(schedule_id, now):
                raise Conflict(f"schedule {schedule_id} has finished: no pending step is left to cancel",
                               code="schedule_finished")
            cancelled = uow.schedules.get(schedule_id)
            record(uow, principal, "schedule.cancelled", "schedule", schedule_id, flag.project_id, now,
                   {"cancelled": False}, {"cancelled": True})
            uow.commit()
        assert cancelled is not None
        return cancelled

    def fire_due(self, now: datetime | None = None) -> list[Fired]:
        """Apply the steps due by `now` (the clock's time by default), earliest first. Each step
        is applied by one process only; the ones this process handled are returned."""
        with self._uow(transaction=False) as uow:
            due = uow.schedules.due(now or self._clock(), DUE_PER_PASS)
        fired = []
        for step in due:
            try:
                result = self._fire(step)
            except Unavailable:
                raise  # the database is away: the next pass tries again
            except Exception:  # a bug with one step must not hold up the others
                log.exception("schedule %s step %s could not be applied", step.step.schedule_id,
                              step.step.position)
                continue
            if result is not None:
                fired.append(result)
        return fired

    def _fire(self, due: DueStep) -> Fired | None:
        step = due.step
        author = scheduler(step.schedule_id)
        try:
            with self._uow(write=True) as uow:
                applied_at = self._clock()
                if not uow.schedules.claim(step.id, applied_at, is_late(step.at, applied_at)):
                    return None  # another process has it, or an earlier step of its schedule is pending
                flag = _flag_for_update(uow, due.flag_id)
                edit_flag(uow, author, flag, step.changes, applied_at)
                uow.schedules.record_version(step.id, flag.version)
                uow.commit()
        except Unavailable:
            raise  # the database, not the patch: the step stays pending for the next pass
        except DomainError as refused:
            # The claim went with the rollback; the refusal is recorded on its own.
            return self._fail(due, refused.message)
        log.info("schedule %s applied step %s as version %s of flag %s",
                 step.schedule_id, step.position, flag.version, due.flag_id)
        return Fired(step.schedule_id, step.id, StepState.APPLIED, version=flag.version)

    def _fail(self, due: DueStep, message: str) -> Fired | None:
        step = due.step
        with self._uow(write=True) as uow:
            if not uow.schedules.fail(step.id, message):
                return None  # handled elsewhere meanwhile
            uow.commit()
        log.info("schedule %s step %s refused by flag %s: %s", step.schedule_id, step.position,
                 due.flag_id, message)
        return Fired(step.schedule_id, step.id, StepState.FAILED, error=message)


def add_schedule(uow: UnitOfWork, flag: Flag, plan: Plan, author: str, now: datetime) -> Schedule:
    """Store the plan as the flag's schedule (loaded for update), if its times are ahead and the
    flag would accept every step now; otherwise `Invalid` naming the field. The caller commits."""
    schedule = new_schedule(plan, flag.id, flag.project_id, author, now)
    _rehearse(uow, flag, plan)
    check_pending_count(uow.schedules.count_pending(flag.id))
    uow.schedules.add(schedule)
    record(uow, author, "schedule.created", "schedule", schedule.id, flag.project_id, now, None,
           {"flagId": str(flag.id), "kind": schedule.kind.value,
            "steps": [{"at": step.at.isoformat(), "patch": patch_document(step.changes)}
                      for step in schedule.steps]})
    return schedule


def _rehearse(uow: UnitOfWork, flag: Flag, plan: Plan) -> None:
    """Apply the plan's patches in turn to a copy of the flag, with every check an edit makes
    now: the first refusal, said of the step's field. The flag itself is left as it was."""
    rehearsal = copy.deepcopy(flag)
    for index, planned in enumerate(plan.steps):
        try:
            apply_edit(uow, rehearsal, planned.changes)
        except Invalid as refused:
            raise within(plan.patch_field(index), refused) from None


def _flag_for_update(uow: UnitOfWork, flag_id: int) -> Flag:
    flag = uow.flags.get(flag_id, for_update=True)
    if flag is None:  # flags are archived, not deleted; a schedule's flag is always there
        raise NotFound(f"flag {flag_id} not found", code="flag_not_found")
    return flag


def _of_flag(schedule: Schedule | None, flag_id: int, schedule_id: int) -> Schedule:
    if schedule is None or schedule.flag_id != flag_id:
        raise NotFound(f"schedule {schedule_id} not found", code="schedule_not_found")
    return schedule

"""An experiment from start to decision, and its new runs (the rules: model/lifecycle.py).

Each step is one version, written like any edit (so a protected deployment turns it into a
change request). A new run is a new experiment linked to the one it repeats; the old run keeps
its versions, exposures and results.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flagyard.clock import Clock, utc_now
from flagyard.errors import Conflict
from flagyard.manage.changes import append_version, load_flag, load_for_write
from flagyard.manage.dependencies import check_parent_dependencies
from flagyard.manage.linking import check_linkable_deployments
from flagyard.manage.membership import parents_of, version_groups
from flagyard.manage.model import lifecycle
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.ports import UnitOfWorkFactory


class ExperimentLifecycle:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    def start(self, principal: Principal, flag_id: int) -> Flag:
        return self._step(principal, flag_id, lifecycle.start)

    def stop(self, principal: Principal, flag_id: int) -> Flag:
        return self._step(principal, flag_id, lifecycle.stop)

    def decide(self, principal: Principal, flag_id: int, decision: str, variant: str | None = None,
               reason: str | None = None) -> Flag:
        return self._step(principal, flag_id,
                          lambda flag, now: lifecycle.decide(flag, decision, variant, reason, now))

    def new_run(self, principal: Principal, flag_id: int, key: str, *, new_salt: bool = False,
                name: str | None = None) -> Flag:
        """A new experiment repeating this one's design (model/lifecycle.next_run), in planning,
        linked as its next run. Only the latest run of a chain can have a next one."""
        principal.require_write()
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_flag(uow, principal, Kind.EXPERIMENT, flag_id, for_update=True)
            chain = uow.runs.chain(flag.id)
            if chain[-1] != flag.id:
                raise Conflict(f"experiment '{flag.key}' already has a next run ({chain[chain.index(flag.id) + 1]}); "
                               "start a new run from the latest one", code="has_next_run")
            run = lifecycle.next_run(flag, key, principal.name, now, new_salt=new_salt, name=name)
            check_linkable_deployments(uow, run.project_id, run.deployments, "deployments")
            if run.parent_dependencies is not None:
                check_parent_dependencies(uow, run)
            uow.flags.add(run)
            append_version(uow, run, principal, now)
            version_groups(uow, principal, now, parents_of(run))
            uow.runs.link(run.id, flag.id)
            uow.commit()
        return run

    def runs(self, principal: Principal, flag_id: int) -> list[Flag]:
        """Every run of the experiment, oldest first (itself alone when it has no other)."""
        with self._uow() as uow:
            load_flag(uow, principal, Kind.EXPERIMENT, flag_id)
            ids = uow.runs.chain(flag_id)
            found = {flag.id: flag for flag in uow.flags.get_many(ids)}
        return [found[i] for i in ids if i in found]

    def _step(self, principal: Principal, flag_id: int, change: Callable[[Flag, datetime], None]) -> Flag:
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_for_write(uow, principal, Kind.EXPERIMENT, flag_id)
            change(flag, now)
            append_version(uow, flag, principal, now)
            uow.commit()
        return flag

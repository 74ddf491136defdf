"""Create, read, list and edit holdout and mutex groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flagyard.clock import Clock, utc_now
from flagyard.errors import Invalid, NotFound
from flagyard.manage.changes import append_version, load_flag
from flagyard.manage.membership import join, leave, parents_of
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.model.groups import (
    allowed_variants,
    edit_holdout_lists,
    member_ids,
    new_group,
    set_slot_individuals,
    slot_index,
    slot_variant,
)
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory


class GroupService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    def create(self, principal: Principal, kind: Kind, fields: Mapping[str, Any]) -> Flag:
        principal.require_write()
        project_id: int = fields["project_id"]
        principal.require_project(project_id)
        now = self._clock()
        with self._uow(write=True) as uow:
            if uow.projects.get(project_id) is None:
                raise NotFound(f"project {project_id} not found", code="project_not_found")
            group = new_group(kind, project_id, fields, actor=principal.name, now=now)
            group.version = 0
            uow.flags.add(group)
            if kind is Kind.HOLDOUT:
                self._set_members(uow, principal, now, group, Kind.EXPERIMENT, None,
                                  fields.get("experiments") or [], "experiments")
            else:
                for index, slot in enumerate(fields["slots"], start=1):
                    where = f"slots[{index - 1}]"
                    self._set_members(uow, principal, now, group, Kind.EXPERIMENT, index,
                                      slot.get("experiments") or [], f"{where}.experiments")
                    self._set_members(uow, principal, now, group, Kind.HOLDOUT, index,
                                      slot.get("holdouts") or [], f"{where}.holdouts")
            self._commit(uow, principal, now, group)
        return group

    def get(self, principal: Principal, kind: Kind, group_id: int) -> Flag:
        with self._uow() as uow:
            return load_flag(uow, principal, kind, group_id)

    def page(self, principal: Principal, kind: Kind, include_archived: bool,
             page: PageRequest, project_id: int | None = None) -> Page[Flag]:
        """Newest first, of every project the principal sees, or of `project_id` only."""
        project_ids = principal.project_ids
        if project_id is not None:
            principal.require_project(project_id)
            project_ids = frozenset({project_id})
        with self._uow() as uow:
            items = uow.flags.page(kind=kind, project_ids=project_ids, key=None,
                                   include_archived=include_archived, before_id=page.cursor,
                                   limit=page.limit + 1)
        return Page.from_overfetch(items, page.limit, lambda g: g.id)

    def member_flags(self, principal: Principal, group: Flag) -> list[Flag]:
        """The experiments and holdouts in `group` (as read with it), by id, for showing them."""
        principal.require_project(group.project_id)
        with self._uow() as uow:
            found = uow.flags.get_many([member.id for member in group.members])
        return sorted(found, key=lambda flag: flag.id)

    def groups_of(self, principal: Principal, flag: Flag) -> list[tuple[Flag, tuple[str, ...]]]:
        """The holdouts and mutexes `flag` is in, each with the variants it allows (its slot)."""
        principal.require_project(flag.project_id)
        parents = parents_of(flag)
        if not parents:
            return []
        with self._uow() as uow:
            found = uow.flags.get_many(list(parents))
        return [(group, parents[group.id]) for group in sorted(found, key=lambda g: g.id)
                if group.kind.is_group]

    def edit(self, principal: Principal, kind: Kind, group_id: int,
             changes: Mapping[str, Any]) -> Flag:
        """name, description, archive; for a holdout also experiments and its id lists."""
        principal.require_write()
        if not changes:
            raise Invalid("the request body names no field to change", code="empty_edit")
        now = self._clock()
        with self._uow(write=True) as uow:
            group = load_flag(uow, principal, kind, group_id, for_update=True)
            if changes.get("archive") is True:
                # As Amplitude documents it: archiving ignores the other fields and takes the
                # group out of every member's parentDependencies.
                for member in list(group.members):
                    leave(uow, principal, now, group, member.id)
                group.deleted = True
            else:
                if changes.get("archive") is False:
                    group.deleted = False
                group.ensure_editable()
                for name in ("name", "description"):
                    if name in changes:
                        setattr(group, name, changes[name])
                if kind is Kind.HOLDOUT:
                    edit_holdout_lists(group, changes.get("individual_inclusion"),
                                       changes.get("individual_exclusion"))
                    if "experiments" in changes:
                        self._set_members(uow, principal, now, group, Kind.EXPERIMENT, None,
                                          changes["experiments"], "experiments")
            self._commit(uow, principal, now, group)
        return group

    def edit_slot(self, principal: Principal, group_id: int, index: int,
                  changes: Mapping[str, Any]) -> Flag:
        principal.require_write()
        if not changes:
            raise Invalid("the request body names no field to change", code="empty_edit")
        now = self._clock()
        with self._uow(write=True) as uow:
            group = load_flag(uow, principal, Kind.MUTEX, group_id, for_update=True)
            slot_index(group, index)
            group.ensure_editable()
            if "individuals" in changes:
                set_slot_individuals(group, index, changes["individuals"])
            for name, kind in (("experiments", Kind.EXPERIMENT), ("holdouts", Kind.HOLDOUT)):
                if name in changes:
                    self._set_members(uow, principal, now, group, kind, index, changes[name], name)
            self._commit(uow, principal, now, group)
        return group

    # --- internals ------------------------------------------------------------------------

    @staticmethod
    def _set_members(uow: UnitOfWork, principal: Principal, now: datetime, group: Flag,
                     kind: Kind, slot: int | None, wanted: Sequence[int], field: str) -> None:
        """Make the members of `kind` (in `slot`, for a mutex) exactly `wanted`."""
        variant = None if slot is None else slot_variant(slot)
        current = {int(i) for i in member_ids(group, kind, variant)}
        wanted = list(dict.fromkeys(wanted))
        for member_id in sorted(current - set(wanted)):
            leave(uow, principal, now, group, member_id)
        allowed = allowed_variants(group, slot)
        for position, member_id in enumerate(wanted):
            if member_id not in current:
                join(uow, principal, now, group, member_id, allowed, f"{field}[{position}]")

    @staticmethod
    def _commit(uow: UnitOfWork, principal: Principal, now: datetime, group: Flag) -> None:
        group.members = uow.flags.members([group])[group.id]
        append_version(uow, group, principal, now)
        uow.commit()

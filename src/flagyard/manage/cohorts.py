"""Managing cohorts: create, read, rename, archive, change members in batches or from a whole
file, and say which flags target them.

Each call is one transaction that locks the cohort row, so a batch lands whole or not at all
and `size` always equals the number of member rows. Cohort changes append no flag version
(docs/adr/0040-cohorts-owned-by-flagyard.md): the cohort's own `lastModified` moves instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from flagyard.clock import Clock, utc_now
from flagyard.errors import Forbidden, Invalid, NotFound
from flagyard.manage.audit import record
from flagyard.manage.model.access import Principal
from flagyard.manage.model.cohort_uses import CohortUse, cohort_uses
from flagyard.manage.model.cohorts import (
    MAX_BATCH,
    Cohort,
    check_name,
    is_cohort_id,
    new_cohort,
)
from flagyard.manage.model.member_file import MemberFile, Uploaded, UploadMode
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory

_FILE_ACTIONS = {UploadMode.ADD: "cohort.members_added", UploadMode.REMOVE: "cohort.members_removed",
                 UploadMode.REPLACE: "cohort.members_replaced"}

# Applies a change to the members and the size; returns whether the members changed.
MemberChange = Callable[[UnitOfWork, Cohort, Sequence[str]], bool]


class CohortService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    def create(self, principal: Principal, project_id: int, name: str, *, description: str = "",
               group_type: str = "User", member_ids: Sequence[str] = ()) -> Cohort:
        principal.require_write()
        principal.require_project(project_id)
        _check_batch(member_ids)
        cohort = new_cohort(project_id, name, description, group_type, principal.name, self._clock())
        with self._uow(write=True) as uow:
            if uow.projects.get(project_id) is None:
                raise NotFound(f"project {project_id} not found", code="project_not_found")
            uow.cohorts.add(cohort)
            if member_ids:
                cohort.size = uow.cohorts.add_members(cohort.id, member_ids)
                uow.cohorts.save(cohort)
            record(uow, principal, "cohort.created", "cohort", cohort.public_id, project_id, self._clock(),
                   None, _audited(cohort))
            uow.commit()
        return cohort

    def get(self, principal: Principal, public_id: str) -> Cohort:
        with self._uow() as uow:
            return _visible(uow, principal, public_id)

    def page(self, principal: Principal, project_id: int | None, include_archived: bool,
             page: PageRequest) -> Page[Cohort]:
        scope = principal.project_ids
        if project_id is not None:
            principal.require_project(project_id)
            scope = frozenset({project_id})
        with self._uow() as uow:
            items = uow.cohorts.page(project_ids=scope, include_archived=include_archived,
                                     before_id=page.cursor, limit=page.limit + 1)
        return Page.from_overfetch(items, page.limit, lambda c: c.id)

    def edit(self, principal: Principal, public_id: str, changes: Mapping[str, Any]) -> Cohort:
        """Rename, describe, archive (`archive: true`) or restore (`archive: false`)."""
        principal.require_write()
        if not changes:
            raise Invalid("the request body names no field to change", code="empty_edit")
        with self._uow(write=True) as uow:
            cohort = _visible(uow, principal, public_id, for_update=True)
            before = _audited(cohort)
            if "name" in changes:
                cohort.name = check_name(changes["name"])
            if "description" in changes:
                cohort.description = changes["description"]
            if "archive" in changes:
                cohort.archived = bool(changes["archive"])
            cohort.touch(principal.name, self._clock())
            uow.cohorts.save(cohort)
            record(uow, principal, "cohort.updated", "cohort", cohort.public_id, cohort.project_id,
                   self._clock(), before, _audited(cohort))
            uow.commit()
        return cohort

    # --- members ---------------------------------------------------------------------------

    def add_members(self, principal: Principal, public_id: str, member_ids: Sequence[str]) -> Cohort:
        def add(uow: UnitOfWork, cohort: Cohort, ids: Sequence[str]) -> bool:
            added = uow.cohorts.add_members(cohort.id, ids)
            cohort.size += added
            return added > 0

        return self._change_members(principal, public_id, member_ids, add, "members_added")

    def remove_members(self, principal: Principal, public_id: str, member_ids: Sequence[str]) -> Cohort:
        def remove(uow: UnitOfWork, cohort: Cohort, ids: Sequence[str]) -> bool:
            removed = uow.cohorts.remove_members(cohort.id, ids)
            cohort.size -= removed
            return removed > 0

        return self._change_members(principal, public_id, member_ids, remove, "members_removed")

    def replace_members(self, principal: Principal, public_id: str, member_ids: Sequence[str]) -> Cohort:
        def replace(uow: UnitOfWork, cohort: Cohort, ids: Sequence[str]) -> bool:
            uow.cohorts.clear_members(cohort.id)
            cohort.size = uow.cohorts.add_members(cohort.id, ids)
            return True

        return self._change_members(principal, public_id, member_ids, replace, "members_replaced")

    def _change_members(self, principal: Principal, public_id: str, member_ids: Sequence[str],
                        change: MemberChange, verb: str) -> Cohort:
        principal.require_write()
        _check_batch(member_ids)
        with self._uow(write=True) as uow:
            cohort = _members_changeable(uow, principal, public_id)
            size = cohort.size
            if change(uow, cohort, member_ids):
                # Unchanged members keep lastModified, so SDKs are not sent the same cohort again.
                cohort.touch(principal.name, self._clock())
                uow.cohorts.save(cohort)
                # The size, not the ids: a million members is no audit record.
                record(uow, principal, f"cohort.{verb}", "cohort", cohort.public_id, cohort.project_id,
                       self._clock(), {"size": size}, {"size": cohort.size, "sent": len(member_ids)})
                uow.commit()
        return cohort

    # --- whole files, and reading members ------------------------------------------------

    def upload(self, principal: Principal, public_id: str, mode: UploadMode, members: MemberFile) -> Uploaded:
        """Add, remove or replace members from a whole file, all or nothing (ADR 0102).

        Every line is checked before the write begins, so a bad file holds no lock and changes
        nothing; then one transaction changes the members a batch at a time, reading the file
        again, and commits once.
        """
        principal.require_write()
        with self._uow() as uow:
            _visible(uow, principal, public_id)
        checked = members.check()
        with self._uow(write=True) as uow:
            cohort = _members_changeable(uow, principal, public_id)
            size = cohort.size
            if mode is UploadMode.REPLACE:
                uow.cohorts.clear_members(cohort.id)
                cohort.size = 0
            changed = 0
            for batch in members.batches():
                if mode is UploadMode.REMOVE:
                    removed = uow.cohorts.remove_members(cohort.id, batch)
                    cohort.size -= removed
                    changed += removed
                else:
                    added = uow.cohorts.add_members(cohort.id, batch)
                    cohort.size += added
                    changed += added
            if changed or mode is UploadMode.REPLACE:
                cohort.touch(principal.name, self._clock())
                uow.cohorts.save(cohort)
                # The same actions as the batch routes', with the file's count of ids.
                record(uow, principal, _FILE_ACTIONS[mode], "cohort", cohort.public_id,
                       cohort.project_id, self._clock(), {"size": size},
                       {"size": cohort.size, "sent": checked.ids})
                uow.commit()
        return Uploaded(mode=mode, ids=checked.ids, changed=changed, size=cohort.size)

    def member_chunks(self, principal: Principal, public_id: str,
                      chunk_size: int = MAX_BATCH) -> Iterator[list[str]]:
        """The members, `chunk_size` at a time, streamed from one read transaction. Access is
        checked now, before the first chunk is asked for."""
        with self._uow() as uow:
            cohort = _visible(uow, principal, public_id)

        def chunks() -> Iterator[list[str]]:
            with self._uow() as uow:
                yield from uow.cohorts.member_chunks(cohort.id, chunk_size)

        return chunks()

    def uses(self, principal: Principal, project_id: int) -> dict[str, list[CohortUse]]:
        """By cohort id, the project's flags and experiments that target it (archived ones
        included, marked), through a segment condition or a variant's cohort inclusions."""
        principal.require_project(project_id)
        with self._uow() as uow:
            flags = uow.flags.cohort_targeting(project_id)
            included = uow.inclusions.cohorts.for_variants([v.id for f in flags for v in f.variants])
        return cohort_uses(flags, included)


def _check_batch(member_ids: Sequence[str]) -> None:
    if len(member_ids) > MAX_BATCH:
        raise Invalid(f"memberIds holds {len(member_ids)} ids; send at most {MAX_BATCH} per request",
                      code="too_many_ids")


def _visible(uow: UnitOfWork, principal: Principal, public_id: str, *,
             for_update: bool = False) -> Cohort:
    """The cohort, if this key may see it; a project-scoped key gets 403 for any id outside
    its projects, known or not, as it does for flags."""
    cohort = uow.cohorts.get(public_id, for_update=for_update) if is_cohort_id(public_id) else None
    if cohort is not None and principal.can_see(cohort.project_id):
        return cohort
    if principal.project_ids is not None:
        raise Forbidden(f"this key has no access to cohort {public_id}", code="project_forbidden")
    raise NotFound(f"cohort {public_id} not found", code="cohort_not_found")


def _members_changeable(uow: UnitOfWork, principal: Principal, public_id: str) -> Cohort:
    """The cohort, visible and locked for the change, unless it is archived."""
    cohort = _visible(uow, principal, public_id, for_update=True)
    if cohort.archived:
        raise Invalid(f"cohort {public_id} is archived; restore it to change its members",
                      code="cohort_archived")
    return cohort


def _audited(cohort: Cohort) -> dict[str, Any]:
    return {"name": cohort.name, "description": cohort.description, "archived": cohort.archived,
            "size": cohort.size}

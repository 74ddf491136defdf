"""Create, read, list and edit flags and experiments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flagyard.clock import Clock, utc_now
from flagyard.errors import Invalid, NotFound
from flagyard.manage.changes import append_version, load_flag, record_change
from flagyard.manage.dependencies import check_parent_dependencies
from flagyard.manage.edits import edit_flag
from flagyard.manage.keys import confirm_unrevoked
from flagyard.manage.linking import check_linkable_deployments
from flagyard.manage.membership import parents_of, version_groups
from flagyard.manage.model.access import Principal
from flagyard.manage.model.creation import new_flag
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.model.rules import is_flag_key
from flagyard.manage.ports import UnitOfWorkFactory


@dataclass(frozen=True)
class FlagFilter:
    project_id: int | None = None
    key: str | None = None
    include_archived: bool = False


def visible_projects(principal: Principal, filters: FlagFilter) -> frozenset[int] | None:
    """The projects a list may show (None: all), refusing a project the key may not see."""
    if filters.project_id is not None:
        principal.require_project(filters.project_id)
        return frozenset({filters.project_id})
    return principal.project_ids


def matches_nothing(filters: FlagFilter) -> bool:
    # No stored key looks like this, and some text (a NUL) cannot even be a query parameter.
    return filters.key is not None and not is_flag_key(filters.key)


class FlagService:
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
            flag = new_flag(kind, project_id, fields, actor=principal.name, now=now)
            check_linkable_deployments(uow, project_id, flag.deployments, "deployments")
            if flag.parent_dependencies is not None:
                check_parent_dependencies(uow, flag)
            flag.version = 0
            uow.flags.add(flag)
            append_version(uow, flag, principal, now)
            version_groups(uow, principal, now, parents_of(flag))
            uow.commit()
        return flag

    def get(self, principal: Principal, kind: Kind, flag_id: int) -> Flag:
        with self._uow() as uow:
            return load_flag(uow, principal, kind, flag_id)

    def page(self, principal: Principal, kind: Kind, filters: FlagFilter, page: PageRequest) -> Page[Flag]:
        scope = visible_projects(principal, filters)
        if matches_nothing(filters):
            return Page([], None)
        with self._uow() as uow:
            items = uow.flags.page(
                kind=kind,
                project_ids=scope,
                key=filters.key,
                include_archived=filters.include_archived,
                before_id=page.cursor,
                limit=page.limit + 1,
            )
        return Page.from_overfetch(items, page.limit, lambda f: f.id)

    def edit(self, principal: Principal, kind: Kind, flag_id: int, changes: Mapping[str, Any], *,
             confirm_key: bool = False) -> Flag:
        """With `confirm_key`, the principal's key is confirmed unrevoked in the write's own
        transaction (a key remembered from an earlier request, `KeyService.remembered`)."""
        principal.require_write()
        if not changes:
            raise Invalid("the request body names no field to change", code="empty_edit")
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_flag(uow, principal, kind, flag_id, for_update=True)
            if confirm_key:
                confirm_unrevoked(uow, principal, flag.id)
            edit_flag(uow, principal, flag, changes, now)
            uow.commit()
        return flag

    def set_enabled(self, principal: Principal, kind: Kind, flag_id: int, enabled: bool) -> Flag:
        principal.require_write()
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_flag(uow, principal, kind, flag_id, for_update=True)
            flag.set_enabled(enabled)
            record_change(uow, flag, principal, now)
        return flag

    def set_rollout_weights(
        self, principal: Principal, kind: Kind, flag_id: int, weights: Mapping[str, int]
    ) -> Flag:
        principal.require_write()
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_flag(uow, principal, kind, flag_id, for_update=True)
            flag.ensure_editable()
            flag.set_rollout_weights(weights)
            record_change(uow, flag, principal, now)
        return flag

"""Reading the version history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flagyard.errors import NotFound
from flagyard.manage.changes import load_flag
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.model.versions import Version
from flagyard.manage.ports import UnitOfWorkFactory


@dataclass(frozen=True)
class TimeWindow:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


class VersionService:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    def for_flag(self, principal: Principal, kind: Kind, flag_id: int) -> list[Version]:
        with self._uow() as uow:
            load_flag(uow, principal, kind, flag_id)
            return uow.versions.for_flag(flag_id)

    def get(self, principal: Principal, kind: Kind, flag_id: int, number: int) -> Version:
        with self._uow() as uow:
            load_flag(uow, principal, kind, flag_id)
            version = uow.versions.get(flag_id, number)
        if version is None:
            raise NotFound(f"version {number} of {kind.value} {flag_id} not found",
                           code="version_not_found")
        return version

    def page(self, principal: Principal, window: TimeWindow, page: PageRequest) -> Page[Version]:
        with self._uow() as uow:
            items = uow.versions.page(
                project_ids=principal.project_ids,
                start=window.start,
                end=window.end,
                before_id=page.cursor,
                limit=page.limit + 1,
            )
        return Page.from_overfetch(items, page.limit, lambda v: v.id)

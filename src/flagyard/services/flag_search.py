"""Finding flags and experiments in one project: text search, filters, cursor paging."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from flagyard.domain.access import Principal
from flagyard.domain.flags import Flag, Kind
from flagyard.services.paging import Page, PageRequest
from flagyard.services.uow import UnitOfWorkFactory

MAX_TEXT = 200


@dataclass(frozen=True)
class FlagQuery:
    kind: Kind
    project_id: int
    text: str = ""  # a part of the key or of the name, any case
    enabled: bool | None = None
    archived: bool | None = False  # None: both
    deployment_id: int | None = None
    tag: str | None = None


class FlagSearchStore(Protocol):
    def page(self, query: FlagQuery, *, before_id: int | None, limit: int) -> list[Flag]: ...


class FlagSearchService:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    def page(self, principal: Principal, query: FlagQuery, page: PageRequest) -> Page[Flag]:
        principal.require_project(query.project_id)
        query = replace(query, text=query.text.strip()[:MAX_TEXT])
        with self._uow() as uow:
            items = uow.flag_search.page(query, before_id=page.cursor, limit=page.limit + 1)
        return Page.from_overfetch(items, page.limit, lambda f: f.id)

"""Finding flags and experiments in one project: text search, filters, cursor paging."""

from __future__ import annotations

from dataclasses import replace

from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.ports import FlagQuery, FlagSearchReader

MAX_TEXT = 200


class FlagSearchService:
    """A read model off the write unit of work: one query of its own per page."""

    def __init__(self, reader: FlagSearchReader) -> None:
        self._reader = reader

    def page(self, principal: Principal, query: FlagQuery, page: PageRequest) -> Page[Flag]:
        principal.require_project(query.project_id)
        query = replace(query, text=query.text.strip()[:MAX_TEXT])
        items = self._reader(query, before_id=page.cursor, limit=page.limit + 1)
        return Page.from_overfetch(items, page.limit, lambda f: f.id)

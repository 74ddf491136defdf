"""Finding flags and experiments in one project: text search, filters, cursor paging."""

from __future__ import annotations

from dataclasses import replace

from flagyard.errors import Invalid
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.model.usage import MAX_DAYS
from flagyard.manage.ports import FlagQuery, FlagSearchReader

MAX_TEXT = 200


class FlagSearchService:
    """A read model off the write unit of work: one query of its own per page."""

    def __init__(self, reader: FlagSearchReader) -> None:
        self._reader = reader

    def page(self, principal: Principal, query: FlagQuery, page: PageRequest) -> Page[Flag]:
        principal.require_project(query.project_id)
        for name, days in (("notEvaluatedDays", query.not_evaluated_days),
                           ("servedToEveryoneDays", query.served_to_everyone_days)):
            if days is not None and not 1 <= days <= MAX_DAYS:
                raise Invalid(f"{name} must be between 1 and {MAX_DAYS}", code="invalid_days")
        query = replace(query, text=query.text.strip()[:MAX_TEXT])
        items = self._reader(query, before_id=page.cursor, limit=page.limit + 1)
        return Page.from_overfetch(items, page.limit, lambda f: f.id)

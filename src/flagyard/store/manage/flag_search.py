"""The console's flag list: search and filters in SQL, keyset paging on id (newest first)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.clock import utc_now
from flagyard.manage.model.flags import Flag
from flagyard.manage.ports import FlagQuery, FlagSearchReader
from flagyard.store.manage.flag_repository import FlagRepository
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.tables import flag_deployments, flag_usage, flags


def flag_search_reader(engine: Engine) -> FlagSearchReader:
    def page(query: FlagQuery, *, before_id: int | None, limit: int) -> list[Flag]:
        # A read unit of work for its connection: outages become the same 503 as elsewhere.
        with SqlUnitOfWork(engine, transaction=False) as uow:
            return FlagSearch(uow.connection).page(query, before_id=before_id, limit=limit)

    return page


class FlagSearch:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def page(self, query: FlagQuery, *, before_id: int | None, limit: int) -> list[Flag]:
        select = sa.select(flags.c.id).where(flags.c.kind == query.kind.value,
                                             flags.c.project_id == query.project_id)
        if query.text:
            needle = query.text.lower()
            select = select.where(sa.or_(
                sa.func.lower(flags.c.key).contains(needle, autoescape=True),
                sa.func.lower(flags.c.name).contains(needle, autoescape=True),
            ))
        if query.enabled is not None:
            select = select.where(flags.c.enabled.is_(query.enabled))
        if query.archived is not None:
            select = select.where(flags.c.deleted.is_(query.archived))
        if query.deployment_id is not None:
            select = select.where(sa.exists().where(
                flag_deployments.c.flag_id == flags.c.id,
                flag_deployments.c.deployment_id == query.deployment_id,
            ))
        if query.tag:
            # Tags are keys (letters, digits, '_', '-', '.'), so the quoted tag inside the JSON
            # text matches that tag and no other.
            select = select.where(sa.cast(flags.c.tags, sa.Text).contains(f'"{query.tag}"', autoescape=True))
        if query.not_evaluated_days is not None:
            since = utc_now() - timedelta(days=query.not_evaluated_days)
            select = select.where(flags.c.created_at <= since, ~sa.exists().where(
                flag_usage.c.flag_id == flags.c.id, flag_usage.c.last_evaluated_at > since))
        if query.served_to_everyone_days is not None:
            since = utc_now() - timedelta(days=query.served_to_everyone_days)
            select = select.where(flags.c.served_to_everyone.is_not(None),
                                  flags.c.last_modified_at <= since)
        if before_id is not None:
            select = select.where(flags.c.id < before_id)
        ids = list(self._conn.execute(select.order_by(flags.c.id.desc()).limit(limit)).scalars())
        found = FlagRepository(self._conn).get_many(ids)
        return sorted(found, key=lambda flag: -flag.id)

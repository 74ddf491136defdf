"""Cohorts and their members.

Members live in their own table, one row each, so adding 10,000 ids to a cohort of a million
touches 10,000 rows, and a download streams rows without loading the cohort.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from flagyard.manage.model.cohorts import Cohort
from flagyard.store.db import inserted_id
from flagyard.store.tables import cohort_members, cohorts


class CohortRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def get(self, public_id: str, *, for_update: bool = False) -> Cohort | None:
        query = sa.select(cohorts).where(cohorts.c.public_id == public_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        return _cohort(row) if row else None

    def page(self, *, project_ids: Collection[int] | None, include_archived: bool,
             before_id: int | None, limit: int) -> list[Cohort]:
        query = sa.select(cohorts)
        if project_ids is not None:
            query = query.where(cohorts.c.project_id.in_(project_ids))
        if not include_archived:
            query = query.where(cohorts.c.archived.is_(False))
        if before_id is not None:
            query = query.where(cohorts.c.id < before_id)
        rows = self._conn.execute(query.order_by(cohorts.c.id.desc()).limit(limit)).mappings()
        return [_cohort(row) for row in rows]

    def add(self, cohort: Cohort) -> int:
        cohort.id = inserted_id(self._conn.execute(sa.insert(cohorts).values(
            public_id=cohort.public_id, project_id=cohort.project_id, **_fields(cohort),
            created_at=cohort.created_at, created_by=cohort.created_by,
        )))
        return cohort.id

    def save(self, cohort: Cohort) -> None:
        self._conn.execute(sa.update(cohorts).where(cohorts.c.id == cohort.id).values(**_fields(cohort)))

    # --- members ---------------------------------------------------------------------------

    def add_members(self, cohort_id: int, member_ids: Sequence[str]) -> int:
        """Insert the ids not yet present, in one statement. Returns how many were new."""
        fresh = list(dict.fromkeys(member_ids))
        if not fresh:
            return 0
        if self._conn.dialect.name == "postgresql":
            statement = _ADD_POSTGRESQL
            ids: Any = fresh
        else:
            statement, ids = _ADD_SQLITE, json.dumps(fresh)
        return int(self._conn.execute(statement, {"cohort_id": cohort_id, "ids": ids}).rowcount)

    def remove_members(self, cohort_id: int, member_ids: Sequence[str]) -> int:
        unique = list(dict.fromkeys(member_ids))
        if not unique:
            return 0
        if self._conn.dialect.name == "postgresql":
            statement = _REMOVE_POSTGRESQL
            ids: Any = unique
        else:
            statement, ids = _REMOVE_SQLITE, json.dumps(unique)
        return int(self._conn.execute(statement, {"cohort_id": cohort_id, "ids": ids}).rowcount)

    def clear_members(self, cohort_id: int) -> None:
        self._conn.execute(sa.delete(cohort_members).where(cohort_members.c.cohort_id == cohort_id))

    def member_chunks(self, cohort_id: int, chunk_size: int) -> Iterator[list[str]]:
        """Every member id, `chunk_size` at a time, without holding the whole cohort."""
        result = self._conn.execute(
            sa.select(cohort_members.c.member_id).where(cohort_members.c.cohort_id == cohort_id),
            execution_options={"yield_per": chunk_size},
        )
        for part in result.scalars().partitions():
            yield list(part)


# A batch of ids travels as one parameter (an array; a JSON text on SQLite) and is inserted or
# deleted by one statement: 10,000 rows in one round trip instead of 10,000 parameter sets.
_ADD_POSTGRESQL = sa.text(
    "INSERT INTO cohort_members (cohort_id, member_id) "
    "SELECT :cohort_id, m FROM unnest(CAST(:ids AS text[])) AS m ON CONFLICT DO NOTHING"
)
_ADD_SQLITE = sa.text(
    "INSERT OR IGNORE INTO cohort_members (cohort_id, member_id) "
    "SELECT :cohort_id, value FROM json_each(:ids)"
)
_REMOVE_POSTGRESQL = sa.text(
    "DELETE FROM cohort_members WHERE cohort_id = :cohort_id AND member_id = ANY(CAST(:ids AS text[]))"
)
_REMOVE_SQLITE = sa.text(
    "DELETE FROM cohort_members WHERE cohort_id = :cohort_id "
    "AND member_id IN (SELECT value FROM json_each(:ids))"
)


def _fields(cohort: Cohort) -> dict[str, Any]:
    return {
        "name": cohort.name,
        "description": cohort.description,
        "group_type": cohort.group_type,
        "size": cohort.size,
        "archived": cohort.archived,
        "last_modified_at": cohort.last_modified_at,
        "last_modified_by": cohort.last_modified_by,
    }


def _cohort(row: sa.RowMapping) -> Cohort:
    return Cohort(
        id=row["id"],
        public_id=row["public_id"],
        project_id=row["project_id"],
        name=row["name"],
        description=row["description"],
        group_type=row["group_type"],
        size=row["size"],
        archived=row["archived"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        last_modified_at=row["last_modified_at"],
        last_modified_by=row["last_modified_by"],
    )

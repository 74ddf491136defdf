"""Per-variant inclusion lists: user/device ids and cohort ids, in the order they were added.

They live apart from the flag aggregate because one list can hold 100,000 ids: adding a
thousand must not rewrite the rest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

import orjson
import sqlalchemy as sa

from flagyard.store.tables import variant_cohorts, variant_users


class _OrderedIdList:
    def __init__(self, connection: sa.Connection, table: sa.Table, column: str) -> None:
        self._conn = connection
        self._table = table
        self._value = table.c[column]
        self._column = column

    def ordered(self, variant_id: int) -> list[str]:
        query = (
            sa.select(self._value)
            .where(self._table.c.variant_id == variant_id)
            .order_by(self._table.c.id)
        )
        return list(self._conn.execute(query).scalars())

    def for_variants(self, variant_ids: Collection[int]) -> dict[int, list[str]]:
        result: dict[int, list[str]] = defaultdict(list)
        if not variant_ids:
            return result
        query = (
            sa.select(self._table.c.variant_id, self._value)
            .where(self._table.c.variant_id.in_(variant_ids))
            .order_by(self._table.c.id)
        )
        for variant_id, value in self._conn.execute(query):
            result[variant_id].append(value)
        return result

    def add(self, variant_id: int, values: Sequence[str]) -> int:
        """Append the values not yet present, keeping the given order. Returns how many.

        One statement whatever the batch's size: the ids travel as one parameter and are
        inserted in their given order (the row id is the position), skipping those present."""
        if not values:
            return 0
        if self._conn.dialect.name == "postgresql":
            statement = (
                f"INSERT INTO {self._table.name} (variant_id, {self._column}) "
                "SELECT :variant_id, value FROM unnest(CAST(:ids AS text[])) "
                "WITH ORDINALITY AS given(value, position) ORDER BY position ON CONFLICT DO NOTHING"
            )
            ids: object = list(values)
        else:
            statement = (
                f"INSERT INTO {self._table.name} (variant_id, {self._column}) "
                "SELECT :variant_id, value FROM json_each(:ids) WHERE true ORDER BY key "
                "ON CONFLICT DO NOTHING"
            )
            ids = orjson.dumps(list(values)).decode()
        return self._conn.execute(sa.text(statement), {"variant_id": variant_id, "ids": ids}).rowcount

    def remove(self, variant_id: int, values: Sequence[str]) -> int:
        if not values:
            return 0
        if self._conn.dialect.name == "postgresql":
            given = f"{self._column} = ANY(CAST(:ids AS text[]))"
            ids: object = list(values)
        else:
            given = f"{self._column} IN (SELECT value FROM json_each(:ids))"
            ids = orjson.dumps(list(values)).decode()
        statement = f"DELETE FROM {self._table.name} WHERE variant_id = :variant_id AND {given}"
        return self._conn.execute(sa.text(statement), {"variant_id": variant_id, "ids": ids}).rowcount

    def remove_at(self, variant_id: int, index: int) -> bool:
        row_id = self._conn.execute(
            sa.select(self._table.c.id)
            .where(self._table.c.variant_id == variant_id)
            .order_by(self._table.c.id)
            .limit(1)
            .offset(index)
        ).scalar()
        if row_id is None:
            return False
        self._conn.execute(sa.delete(self._table).where(self._table.c.id == row_id))
        return True

    def clear(self, variant_id: int) -> int:
        result = self._conn.execute(sa.delete(self._table).where(self._table.c.variant_id == variant_id))
        return result.rowcount


class InclusionRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self.users = _OrderedIdList(connection, variant_users, "user_id")
        self.cohorts = _OrderedIdList(connection, variant_cohorts, "cohort_id")

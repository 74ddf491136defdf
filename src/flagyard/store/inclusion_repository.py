"""Per-variant inclusion lists: user/device ids and cohort ids, in the order they were added.

They live apart from the flag aggregate because one list can hold 100,000 ids: adding a
thousand must not rewrite the rest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

import sqlalchemy as sa

from flagyard.store.tables import variant_cohorts, variant_users

# Parameters per IN (...) query; SQLite's default limit is far above this.
_CHUNK = 500


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
        """Append the values not yet present, keeping the given order. Returns how many."""
        fresh = list(dict.fromkeys(values))
        present = self._present(variant_id, fresh)
        rows = [{"variant_id": variant_id, self._column: v} for v in fresh if v not in present]
        if rows:
            self._conn.execute(sa.insert(self._table), rows)
        return len(rows)

    def remove(self, variant_id: int, values: Sequence[str]) -> int:
        removed = 0
        unique = list(dict.fromkeys(values))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            result = self._conn.execute(
                sa.delete(self._table).where(
                    self._table.c.variant_id == variant_id, self._value.in_(chunk)
                )
            )
            removed += result.rowcount
        return removed

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

    def _present(self, variant_id: int, values: list[str]) -> set[str]:
        present: set[str] = set()
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            present.update(
                self._conn.execute(
                    sa.select(self._value).where(
                        self._table.c.variant_id == variant_id, self._value.in_(chunk)
                    )
                ).scalars()
            )
        return present


class InclusionRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self.users = _OrderedIdList(connection, variant_users, "user_id")
        self.cohorts = _OrderedIdList(connection, variant_cohorts, "cohort_id")

"""Per-variant inclusion lists: user/device ids and cohort ids, in the order they were added.

They live apart from the flag aggregate because one list can hold 100,000 ids: adding a
thousand must not rewrite the rest.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from flagyard.store.long_lists import among, among_parameter
from flagyard.store.tables import variant_cohorts, variant_users

# Variant ids per IN list in batched statements: well under SQLite's limit on bound parameters.
_CHUNK = 10_000


@functools.cache
def _statements(table: str, column: str, postgres: bool) -> tuple[sa.TextClause, sa.TextClause, sa.TextClause]:
    """The add, add-pairs and remove statements of one list, made once: every unit of work
    builds the repositories, and parsing these texts was a quarter of a key check (profiled)."""
    # A batch of ids travels as one parameter (an array on PostgreSQL, a JSON text on SQLite)
    # and is added or removed by one statement, whatever its size.
    insert = f"INSERT INTO {table} (variant_id, {column}) SELECT :variant_id, value FROM "
    if postgres:
        given = "unnest(CAST(:ids AS text[])) WITH ORDINALITY AS given(value, position) ORDER BY position"
        listed = f"{column} = ANY(CAST(:ids AS text[]))"
    else:
        given = "json_each(:ids) WHERE true ORDER BY key"
        listed = f"{column} IN (SELECT value FROM json_each(:ids))"
    add = sa.text(f"{insert}{given} ON CONFLICT DO NOTHING")
    # Many variants' lists in one statement: (variant id, value) pairs in order.
    insert_pairs = f"INSERT INTO {table} (variant_id, {column}) SELECT "
    if postgres:
        pairs = ("variant_id, value FROM unnest(CAST(:variant_ids AS integer[]), CAST(:ids AS text[])) "
                 "WITH ORDINALITY AS given(variant_id, value, position) ORDER BY position")
    else:
        pairs = ("json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(:pairs) "
                 "WHERE true ORDER BY key")
    add_pairs = sa.text(f"{insert_pairs}{pairs} ON CONFLICT DO NOTHING")
    remove = sa.text(f"DELETE FROM {table} WHERE variant_id = :variant_id AND {listed}")
    return add, add_pairs, remove


@functools.cache
def _for_variants(table: sa.Table, column: str, postgres: bool) -> sa.Select[Any]:
    """The lists of some variants, made once: every propagation round reads those of the flags
    it recompiles."""
    variant_id = table.c.variant_id
    return (sa.select(variant_id, table.c[column])
            .where(among_parameter(variant_id, "variant_ids", postgres)).order_by(table.c.id))


class _OrderedIdList:
    def __init__(self, connection: sa.Connection, table: sa.Table, column: str) -> None:
        self._conn = connection
        self._table = table
        self._value = table.c[column]
        self._postgres = connection.dialect.name == "postgresql"
        self._add, self._add_pairs, self._remove = _statements(table.name, column, self._postgres)

    def ordered(self, variant_id: int) -> list[str]:
        query = (
            sa.select(self._value)
            .where(self._table.c.variant_id == variant_id)
            .order_by(self._table.c.id)
        )
        return list(self._conn.execute(query).scalars())

    def for_variants(self, variant_ids: Collection[int]) -> dict[int, list[str]]:
        result: dict[int, list[str]] = defaultdict(list)
        ids = list(variant_ids)
        query = _for_variants(self._table, self._value.name, self._postgres)
        for start in range(0, len(ids), _CHUNK):  # a variant's whole list is in one chunk
            for variant_id, value in self._conn.execute(query, {"variant_ids": ids[start:start + _CHUNK]}):
                result[variant_id].append(value)
        return result

    def add(self, variant_id: int, values: Sequence[str]) -> int:
        """Append the values not yet present, keeping the given order (the row id is the
        position). Returns how many."""
        return self._run(self._add, variant_id, values)

    def add_many(self, lists: Mapping[int, Sequence[str]]) -> None:
        """`add` for many variants' lists (by variant id) in one batched statement."""
        pairs = [(variant_id, value) for variant_id, values in lists.items() for value in values]
        if not pairs:
            return
        if self._postgres:
            variant_ids, ids = zip(*pairs, strict=True)
            self._conn.execute(self._add_pairs, {"variant_ids": list(variant_ids), "ids": list(ids)})
        else:
            self._conn.execute(self._add_pairs, {"pairs": orjson.dumps(pairs).decode()})

    def clear_many(self, variant_ids: Sequence[int]) -> None:
        """`clear` for many variants."""
        for start in range(0, len(variant_ids), _CHUNK):
            chunk = variant_ids[start:start + _CHUNK]
            self._conn.execute(sa.delete(self._table).where(among(self._conn, self._table.c.variant_id, chunk)))

    def remove(self, variant_id: int, values: Sequence[str]) -> int:
        return self._run(self._remove, variant_id, values)

    def _run(self, statement: sa.TextClause, variant_id: int, values: Sequence[str]) -> int:
        if not values:
            return 0
        ids = list(values) if self._postgres else orjson.dumps(list(values)).decode()
        return self._conn.execute(statement, {"variant_id": variant_id, "ids": ids}).rowcount

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

"""Queries behind experiment results: the per-variant sums ingestion keeps up to date, and
their hourly history (results as they stood at the end of each hour or day)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.measure.model.metrics import Metric
from flagyard.measure.model.sums import HOUR_PREFIX, RESULT_SUMS, hour_start
from flagyard.measure.ports import AnalysisChange, SumsHistory, VariantTotals
from flagyard.store.measure import analysis_records
from flagyard.store.measure.event_repository import SqlEventStore
from flagyard.store.tables import (
    experiment_metrics,
    experiment_variant_history,
    experiment_variant_stats,
)

v = experiment_variant_stats
h = experiment_variant_history
# VariantTotals' name for each: a key's `users` are the users with an event, its converters.
_FIELDS = tuple("converters" if name == "users" else name for name in RESULT_SUMS)


class SqlResultsReader:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def metrics(self, flag_id: int) -> list[Metric]:
        return SqlEventStore(self._conn).metrics(flag_id)

    def analysis(self, flag_id: int) -> dict[str, Any] | None:
        return analysis_records.stored_analysis(self._conn, flag_id)

    def analysis_changes(self, flag_id: int, limit: int) -> list[AnalysisChange]:
        return analysis_records.changes(self._conn, flag_id, limit)

    def experiments_with_metrics(self) -> list[int]:
        m = experiment_metrics
        return [flag_id for (flag_id,) in self._conn.execute(sa.select(m.c.flag_id).distinct())]

    def analysed_experiments(self) -> list[tuple[int, dict[str, Any]]]:
        return analysis_records.analysed_experiments(self._conn)

    def variant_totals(self, flag_id: int, aggregate_key: str) -> list[VariantTotals]:
        rows = self._conn.execute(
            sa.select(v.c.aggregate_key, v.c.variant, *(v.c[n] for n in RESULT_SUMS))
            .where(v.c.flag_id == flag_id, v.c.aggregate_key.in_(["", aggregate_key]))
        ).all()
        return _variant_totals(rows, aggregate_key)

    def sums_history(self, flag_id: int, aggregate_keys: Sequence[str], *, history: bool) -> SumsHistory:
        """One query, then NumPy: rows scattered into an (hours × sums) array per key and
        variant, summed down the hours (a month is a few thousand rows; no object per row)."""
        keys = sorted({"", *aggregate_keys})
        mark = "%s" if self._conn.dialect.name == "postgresql" else "?"
        columns = ", ".join(RESULT_SUMS)
        where = f"flag_id = {mark} AND aggregate_key IN ({', '.join([mark] * len(keys))})"
        if history:
            rows = self._conn.exec_driver_sql(
                f"SELECT hour, aggregate_key, variant, {columns} FROM experiment_variant_history "
                f"WHERE {where} ORDER BY hour", (flag_id, *keys)).fetchall()
        else:
            rows = self._conn.exec_driver_sql(
                f"SELECT 0, aggregate_key, variant, {columns} FROM experiment_variant_stats WHERE {where}",
                (flag_id, *keys)).fetchall()
        hours = sorted({row[0] for row in rows}) or [0]
        position = {hour: n for n, hour in enumerate(hours)}
        grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for row in rows:
            grouped[(row[1], row[2])].append(row)
        cumulative = {}
        for pair, found in grouped.items():
            changes = np.zeros((len(hours), len(RESULT_SUMS)))
            changes[[position[row[0]] for row in found]] = [row[3:] for row in found]
            cumulative[pair] = np.cumsum(changes, axis=0)
        return SumsHistory(hours, cumulative)

    def excluded_users(self, flag_id: int) -> int:
        return int(self._conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(v.c.excluded), 0))
            .where(v.c.flag_id == flag_id, v.c.aggregate_key == "")).scalar_one())

    def exposure_series(self, flag_id: int, bucket_ms: int) -> list[tuple[int, str, int]]:
        counts: dict[tuple[int, str], int] = defaultdict(int)
        for key, variant, users in self._conn.execute(
            sa.select(v.c.aggregate_key, v.c.variant, v.c.users)
            .where(v.c.flag_id == flag_id, v.c.aggregate_key.startswith(HOUR_PREFIX))
        ):
            start = hour_start(key)
            counts[(start - start % bucket_ms, variant)] += int(users)
        return [(start, variant, n) for (start, variant), n in sorted(counts.items()) if n]


class ResultsReaderSession:
    """A read-only transaction for one results request."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: sa.Connection | None = None

    def __enter__(self) -> SqlResultsReader:
        self._connection = self._engine.connect()
        return SqlResultsReader(self._connection)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._connection is not None
        self._connection.close()


def results_reader_factory(engine: Engine):  # type: ignore[no-untyped-def]
    return lambda: ResultsReaderSession(engine)


def _variant_totals(rows: Sequence[Sequence[Any]], aggregate_key: str) -> list[VariantTotals]:
    """Each variant's totals, by variant, from rows of (aggregate key, variant, *RESULT_SUMS)
    under "" (the exposed users) and `aggregate_key` (those with an event, and their sums)."""
    users = {r[1]: int(r[2]) for r in rows if r[0] == "" and r[2] > 0}
    sums = {r[1]: r for r in rows if r[0] == aggregate_key and aggregate_key != ""}
    found = []
    for variant, n in sorted(users.items()):
        row = sums.get(variant)
        values = zip(_FIELDS, row[2:], strict=True) if row else ()
        fields: dict[str, Any] = {name: _WHOLE.get(name, float)(value) for name, value in values}
        found.append(VariantTotals(variant, n, **fields))
    return found


_WHOLE = {"converters": int, "pre_users": int, "cross_users": int}  # counts of users; the rest are sums

"""Queries behind experiment results: the per-variant sums ingestion keeps up to date."""

from __future__ import annotations

from collections import defaultdict
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.measure.model.metrics import Metric
from flagyard.measure.model.sums import HOUR_PREFIX, hour_start
from flagyard.measure.ports import VariantTotals
from flagyard.store.measure.event_repository import SqlEventStore
from flagyard.store.tables import experiment_variant_stats

v = experiment_variant_stats


class SqlResultsReader:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def metrics(self, flag_id: int) -> list[Metric]:
        return SqlEventStore(self._conn).metrics(flag_id)

    def variant_totals(self, flag_id: int, aggregate_key: str) -> list[VariantTotals]:
        rows = self._conn.execute(
            sa.select(v.c.aggregate_key, v.c.variant, v.c.users, v.c.count_sum, v.c.count_squares,
                      v.c.total_sum, v.c.total_squares)
            .where(v.c.flag_id == flag_id, v.c.aggregate_key.in_(["", aggregate_key]))
        ).all()
        users = {r.variant: int(r.users) for r in rows if r.aggregate_key == "" and r.users > 0}
        sums = {r.variant: r for r in rows if r.aggregate_key == aggregate_key and aggregate_key != ""}
        found = []
        for variant, n in users.items():
            row = sums.get(variant)
            found.append(VariantTotals(
                variant=variant, users=n,
                converters=int(row.users) if row else 0,
                count_sum=float(row.count_sum) if row else 0.0,
                count_squares=float(row.count_squares) if row else 0.0,
                total_sum=float(row.total_sum) if row else 0.0,
                total_squares=float(row.total_squares) if row else 0.0,
            ))
        return found

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

"""Queries behind experiment results: sums per variant over the per-user tables."""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.domain.metrics import Metric
from flagyard.services.event_ports import VariantTotals
from flagyard.store.event_repository import SqlEventStore
from flagyard.store.tables import experiment_exposures, experiment_user_totals

x = experiment_exposures
t = experiment_user_totals


class SqlResultsReader:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def metrics(self, flag_id: int) -> list[Metric]:
        return SqlEventStore(self._conn).metrics(flag_id)

    def variant_totals(self, flag_id: int, aggregate_key: str) -> list[VariantTotals]:
        counted = sa.and_(x.c.flag_id == flag_id, x.c.exposed_at.is_not(None), x.c.excluded.is_(False))
        users: dict[str, int] = dict(self._conn.execute(
            sa.select(x.c.variant, sa.func.count()).where(counted).group_by(x.c.variant)).tuples().all())
        # Users without the event add nothing to the sums, so an inner join is enough.
        sums = {
            row.variant: row for row in self._conn.execute(
                sa.select(
                    x.c.variant,
                    sa.func.count().label("converters"),
                    sa.func.sum(t.c.count).label("count_sum"),
                    sa.func.sum(t.c.count * t.c.count).label("count_squares"),
                    sa.func.sum(t.c.total).label("total_sum"),
                    sa.func.sum(t.c.total * t.c.total).label("total_squares"),
                )
                .select_from(t.join(x, sa.and_(x.c.flag_id == t.c.flag_id, x.c.user_key == t.c.user_key)))
                .where(t.c.flag_id == flag_id, t.c.aggregate_key == aggregate_key, counted)
                .group_by(x.c.variant)
            )
        }
        found = []
        for variant, n in users.items():
            row = sums.get(variant)
            found.append(VariantTotals(
                variant=variant, users=int(n),
                converters=int(row.converters) if row else 0,
                count_sum=float(row.count_sum or 0) if row else 0.0,
                count_squares=float(row.count_squares or 0) if row else 0.0,
                total_sum=float(row.total_sum or 0) if row else 0.0,
                total_squares=float(row.total_squares or 0) if row else 0.0,
            ))
        return found

    def excluded_users(self, flag_id: int) -> int:
        return int(self._conn.execute(
            sa.select(sa.func.count()).where(x.c.flag_id == flag_id, x.c.excluded.is_(True))).scalar_one())

    def exposure_series(self, flag_id: int, bucket_ms: int) -> list[tuple[int, str, int]]:
        bucket = x.c.exposed_at // bucket_ms
        rows = self._conn.execute(
            sa.select(bucket.label("bucket"), x.c.variant, sa.func.count())
            .where(x.c.flag_id == flag_id, x.c.exposed_at.is_not(None), x.c.excluded.is_(False))
            .group_by(bucket, x.c.variant).order_by(bucket, x.c.variant)
        ).all()
        return [(int(b) * bucket_ms, variant, int(n)) for b, variant, n in rows]


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

"""SQL side of event ingestion: raw events, exposures, per-user totals and metric definitions.

Bulk paths use one executemany per batch; on PostgreSQL SQLAlchemy turns those into multi-row
INSERTs ("insertmanyvalues"), on SQLite the driver's executemany.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from flagyard.domain.events import Event
from flagyard.domain.exposures import ExperimentTrigger
from flagyard.domain.metrics import Metric, MetricKind
from flagyard.services.event_ports import ExperimentSetup, ExposureState, Totals, TotalsKey
from flagyard.store.tables import (
    events,
    experiment_exposures,
    experiment_metrics,
    experiment_user_totals,
    flags,
)

IN_CHUNK = 500  # values per IN (...) list


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for n in range(0, len(values), size):
        yield values[n:n + size]


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SqlEventStore:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection
        self._postgres = connection.dialect.name == "postgresql"

    def lock_project(self, project_id: int) -> None:
        """Serialise event writers of one project across processes (SQLite's BEGIN IMMEDIATE
        already does)."""
        if self._postgres:
            self._conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k1, :k2)"),
                               {"k1": 0x4576, "k2": project_id})

    # --- experiments ----------------------------------------------------------------------

    def experiments(self, project_id: int) -> list[ExperimentSetup]:
        rows = self._conn.execute(
            sa.select(flags.c.id, flags.c.key, flags.c.exposure_event)
            .where(flags.c.project_id == project_id, flags.c.kind == "experiment",
                   flags.c.deleted.is_(False))
        ).all()
        if not rows:
            return []
        filtered: dict[int, list[Metric]] = {}
        for metric_row in self._conn.execute(
            sa.select(experiment_metrics).where(experiment_metrics.c.flag_id.in_([r.id for r in rows]))
        ):
            metric = _metric(metric_row)
            if metric.filters:
                filtered.setdefault(metric_row.flag_id, []).append(metric)
        return [
            ExperimentSetup(ExperimentTrigger(r.id, r.key, r.exposure_event or None),
                            tuple(filtered.get(r.id, ())))
            for r in rows
        ]

    # --- raw events -----------------------------------------------------------------------

    def known_dedup_keys(self, project_id: int, keys: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(keys)):
            found.update(self._conn.execute(
                sa.select(events.c.dedup_key)
                .where(events.c.project_id == project_id, events.c.dedup_key.in_(chunk))
            ).scalars())
        return found

    def add_events(self, project_id: int, batch: Sequence[Event], received_at: int) -> None:
        rows = [
            {"project_id": project_id, "dedup_key": e.dedup_key, "event_type": e.event_type,
             "user_key": e.user_key, "time": e.time, "received_at": received_at, "body": _dump(e.raw)}
            for e in batch
        ]
        insert = postgresql.insert(events) if self._postgres else sqlite.insert(events)
        # Duplicates were filtered before; DO NOTHING only guards a race with another process.
        self._conn.execute(insert.on_conflict_do_nothing(), rows)

    def events_of(self, project_id: int, user_keys: Collection[str], since: int) -> list[Event]:
        found: list[Event] = []
        for chunk in _chunks(sorted(user_keys)):
            for (body,) in self._conn.execute(
                sa.select(events.c.body)
                .where(events.c.project_id == project_id, events.c.user_key.in_(chunk),
                       events.c.time >= since)
                .order_by(events.c.id)
            ):
                found.append(_event(json.loads(body)))
        return found

    # --- exposures ------------------------------------------------------------------------

    def exposures_of(self, project_id: int, user_keys: Collection[str]) -> list[ExposureState]:
        found: list[ExposureState] = []
        x = experiment_exposures
        for chunk in _chunks(sorted(user_keys)):
            found.extend(
                ExposureState(r.flag_id, r.user_key, r.variant, r.exposed_at, r.excluded)
                for r in self._conn.execute(
                    sa.select(x.c.flag_id, x.c.user_key, x.c.variant, x.c.exposed_at, x.c.excluded)
                    .where(x.c.project_id == project_id, x.c.user_key.in_(chunk))
                )
            )
        return found

    def exposures_page(self, flag_id: int, after_user: str, limit: int) -> list[ExposureState]:
        x = experiment_exposures
        return [
            ExposureState(r.flag_id, r.user_key, r.variant, r.exposed_at, r.excluded)
            for r in self._conn.execute(
                sa.select(x.c.flag_id, x.c.user_key, x.c.variant, x.c.exposed_at, x.c.excluded)
                .where(x.c.flag_id == flag_id, x.c.user_key > after_user)
                .order_by(x.c.user_key).limit(limit)
            )
        ]

    def save_exposures(self, project_id: int, added: Iterable[ExposureState],
                       changed: Iterable[ExposureState]) -> None:
        x = experiment_exposures
        new_rows = [
            {"flag_id": s.flag_id, "user_key": s.user_key, "project_id": project_id,
             "variant": s.variant, "exposed_at": s.exposed_at, "excluded": s.excluded}
            for s in added
        ]
        if new_rows:
            self._conn.execute(sa.insert(x), new_rows)
        updates = [
            {"f": s.flag_id, "u": s.user_key, "variant": s.variant, "exposed_at": s.exposed_at,
             "excluded": s.excluded}
            for s in changed
        ]
        if updates:
            self._conn.execute(
                sa.update(x).where(x.c.flag_id == sa.bindparam("f"), x.c.user_key == sa.bindparam("u")),
                updates,
            )

    # --- totals ---------------------------------------------------------------------------

    def add_totals(self, totals: dict[TotalsKey, Totals]) -> None:
        t = experiment_user_totals
        insert = (postgresql.insert(t) if self._postgres else sqlite.insert(t))
        upsert = insert.on_conflict_do_update(
            index_elements=[t.c.flag_id, t.c.aggregate_key, t.c.user_key],
            set_={
                "count": t.c.count + insert.excluded.count,
                "total": t.c.total + insert.excluded.total,
                "first_at": sa.func.min(t.c.first_at, insert.excluded.first_at) if not self._postgres
                else sa.func.least(t.c.first_at, insert.excluded.first_at),
            },
        )
        rows = [
            {"flag_id": flag_id, "aggregate_key": key, "user_key": user, "count": v.count,
             "total": v.total, "first_at": v.first_at}
            for (flag_id, user, key), v in sorted(totals.items())
        ]
        self._conn.execute(upsert, rows)

    def drop_totals(self, flag_id: int, aggregate_keys: Collection[str]) -> None:
        t = experiment_user_totals
        self._conn.execute(sa.delete(t).where(t.c.flag_id == flag_id,
                                              t.c.aggregate_key.in_(list(aggregate_keys))))

    # --- metric definitions ---------------------------------------------------------------

    def metrics(self, flag_id: int) -> list[Metric]:
        m = experiment_metrics
        return [_metric(r) for r in self._conn.execute(
            sa.select(m).where(m.c.flag_id == flag_id).order_by(m.c.position))]

    def replace_metrics(self, flag_id: int, metrics: Sequence[Metric]) -> list[Metric]:
        """Keep the id of a metric sent again unchanged (its totals stay valid)."""
        m = experiment_metrics
        existing = {_identity(metric): metric.id for metric in self.metrics(flag_id)}
        keep = {existing[_identity(metric)] for metric in metrics if _identity(metric) in existing}
        self._conn.execute(sa.delete(m).where(m.c.flag_id == flag_id, m.c.id.not_in(keep)))
        for position, metric in enumerate(metrics):
            values = {"position": position, "name": metric.name, "event_type": metric.event_type,
                      "property": metric.property, "kind": metric.kind.value, "filters": metric.filters}
            metric_id = existing.get(_identity(metric))
            if metric_id is None:
                self._conn.execute(sa.insert(m).values(flag_id=flag_id, **values))
            else:
                self._conn.execute(sa.update(m).where(m.c.id == metric_id).values(**values))
        return self.metrics(flag_id)


def _identity(metric: Metric) -> str:
    return _dump([metric.event_type, metric.property, metric.kind.value, metric.filters])


def _metric(row: Any) -> Metric:
    return Metric(event_type=row.event_type, kind=MetricKind(row.kind), property=row.property,
                  filters=list(row.filters or []), name=row.name, id=row.id)


def _event(raw: dict[str, Any]) -> Event:
    return Event(
        event_type=raw["event_type"], user_id=raw.get("user_id"), device_id=raw.get("device_id"),
        time=raw["time"], insert_id=raw.get("insert_id"),
        event_properties=raw.get("event_properties") or {},
        user_properties=raw.get("user_properties") or {}, raw=raw,
    )

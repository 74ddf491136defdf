"""SQL side of event ingestion: raw events, exposures, per-user totals, the per-variant sums
and their hourly history, and metric definitions.

The paths taken for every event go straight to the driver, because building SQLAlchemy
parameters for each row cost more than the database did (profiled): raw events are
`COPY`-ed on PostgreSQL and `executemany`-ed on SQLite; lookups pass a whole key list as one
parameter (a JSON text: `json_array_elements_text` on PostgreSQL, one index probe per key,
`json_each` on SQLite).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from psycopg.copy import QueuedLibpqWriter

from flagyard.measure.model.analysis import AnalysisSettings, analysis_from_stored, cuped_window_ms
from flagyard.measure.model.events import Event, json_text
from flagyard.measure.model.exposures import ExperimentTrigger
from flagyard.measure.model.metrics import Direction, Metric, MetricKind, Role
from flagyard.measure.model.sums import SUM_NAMES, Sums, is_hour_key
from flagyard.measure.ports import (
    AnalysisChange,
    ExperimentSetup,
    ExposureState,
    SumsKey,
)
from flagyard.store.measure import analysis_records
from flagyard.store.measure.event_locks import PROJECT_LOCK, LockPlan
from flagyard.store.tables import (
    experiment_analysis,
    experiment_exposures,
    experiment_metrics,
    experiment_variant_history,
    experiment_variant_stats,
    flags,
)

CHUNK = 20_000  # keys per lookup parameter
T = TypeVar("T")
_METRIC_KEY = re.compile(r"#[0-9]+")  # the aggregate key of a metric with filters


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for n in range(0, len(values), size):
        yield values[n:n + size]


class SqlEventStore:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection
        self._postgres = connection.dialect.name == "postgresql"
        self._mark = "%s" if self._postgres else "?"

    def _keyed(self, columns: Sequence[str], table: str, column: str, where: str, params: tuple[Any, ...],
               keys: Sequence[str], order_by: str | None = None) -> list[Any]:
        """`columns` of the rows of `table` whose `column` is one of `keys` and that match `where`
        (with `params`), the keys passed as one parameter (a JSON text: the databases parse it
        faster than the driver adapts a list)."""
        order = f" ORDER BY r.{order_by}" if order_by else ""
        if self._postgres:
            # One index probe per key, whatever the plan cache holds: a key list `IN (SELECT
            # json_array_elements_text(...))`, or `= ANY(%s)`, once prepared got a generic plan
            # that scanned the whole table (its size taken from statistics of when it was small);
            # `OFFSET 0` keeps the planner from turning the lateral subquery back into a join.
            inner = ", ".join([*columns, order_by] if order_by else columns)
            return self._rows(
                f"SELECT {', '.join(f'r.{c}' for c in columns)} FROM json_array_elements_text(%s::json) AS k(key) "
                f"CROSS JOIN LATERAL (SELECT {inner} FROM {table} WHERE {column} = k.key AND {where} OFFSET 0) AS r"
                + order, (orjson.dumps(list(keys)).decode(), *params))
        return self._rows(
            f"SELECT {', '.join(f'r.{c}' for c in columns)} FROM {table} AS r "
            f"WHERE {where} AND {column} IN (SELECT value FROM json_each(?))" + order,
            (*params, orjson.dumps(list(keys)).decode()))

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return list(self._conn.exec_driver_sql(sql, params).all())

    def take_locks(self, plan: LockPlan) -> None:
        """Keep the writers of other processes off what this transaction touches, until it ends:
        whole projects, or the buckets of some of their users (event_locks.py). SQLite's
        `BEGIN IMMEDIATE` already keeps every other writer off."""
        if not self._postgres:
            return
        for project_id, exclusive in plan.project_locks():
            function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            self._conn.exec_driver_sql(f"SELECT {function}(%s, %s)", (PROJECT_LOCK, project_id))
        keys = plan.bucket_locks()
        if keys:
            # One statement, the keys taken in the array's (ascending) order.
            self._rows("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", (keys,))

    # --- experiments ----------------------------------------------------------------------

    def experiments(self, project_id: int) -> list[ExperimentSetup]:
        rows = self._conn.execute(
            sa.select(flags.c.id, flags.c.key, flags.c.exposure_event)
            .where(flags.c.project_id == project_id, flags.c.kind == "experiment",
                   flags.c.deleted.is_(False))
        ).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        filtered: dict[int, list[Metric]] = {}
        for metric_row in self._conn.execute(
            sa.select(experiment_metrics).where(experiment_metrics.c.flag_id.in_(ids))
        ):
            metric = _metric(metric_row)
            if metric.filters:
                filtered.setdefault(metric_row.flag_id, []).append(metric)
        windows = {flag_id: cuped_window_ms(analysis_from_stored(settings)) for flag_id, settings in
                   self._conn.execute(sa.select(experiment_analysis.c.flag_id, experiment_analysis.c.settings)
                                      .where(experiment_analysis.c.flag_id.in_(ids)))}
        default_window = cuped_window_ms(AnalysisSettings())
        return [
            ExperimentSetup(ExperimentTrigger(r.id, r.key, r.exposure_event or None),
                            tuple(filtered.get(r.id, ())), windows.get(r.id, default_window))
            for r in rows
        ]

    # --- raw events -----------------------------------------------------------------------

    def known_dedup_keys(self, project_id: int, keys: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(keys)):
            found.update(r[0] for r in self._keyed(["dedup_key"], "events", "dedup_key",
                                                   f"project_id = {self._mark}", (project_id,), chunk))
        return found

    def add_events(self, project_id: int, events: Sequence[tuple[Event, str, int]],
                   meanwhile: Callable[[], T]) -> T:
        rows = [(project_id, e.dedup_key, e.event_type, e.user_key, e.time, received_at, body)
                for e, body, received_at in events]
        columns = "project_id, dedup_key, event_type, user_key, time, received_at, body"
        if self._postgres:
            # Duplicates were filtered out under the lock of every event's dedup key (its bucket),
            # so COPY cannot collide.
            # A worker thread sends the rows, so PostgreSQL stores them while `meanwhile` runs.
            driver: Any = self._conn.connection.dbapi_connection
            with driver.cursor() as cursor, cursor.copy(f"COPY events ({columns}) FROM STDIN",
                                                        writer=QueuedLibpqWriter(cursor)) as copy:
                for row in rows:
                    copy.write_row(row)
                return meanwhile()
        if rows:
            self._conn.exec_driver_sql(f"INSERT INTO events ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return meanwhile()

    def events_of(self, project_id: int, user_keys: Collection[str], since: int) -> list[Event]:
        found: list[Event] = []
        m = self._mark
        for chunk in _chunks(sorted(user_keys)):
            for (body,) in self._keyed(["body"], "events", "user_key", f"project_id = {m} AND time >= {m}",
                                       (project_id, since), chunk, order_by="id"):
                found.append(_event(orjson.loads(body)))
        return found

    # --- exposures and their totals -------------------------------------------------------

    def exposures_of(self, project_id: int, user_keys: Collection[str]) -> list[ExposureState]:
        found: list[ExposureState] = []
        columns = ["flag_id", "user_key", "variant", "exposed_at", "excluded", "totals"]
        for chunk in _chunks(sorted(user_keys)):
            found.extend(
                ExposureState(r[0], r[1], r[2], r[3], bool(r[4]), orjson.loads(r[5])) for r in self._keyed(
                    columns, "experiment_exposures", "user_key", f"project_id = {self._mark}", (project_id,), chunk)
            )
        return found

    def exposures_page(self, flag_id: int, after_user: str, limit: int) -> list[ExposureState]:
        x = experiment_exposures
        return [
            ExposureState(r.flag_id, r.user_key, r.variant, r.exposed_at, r.excluded, orjson.loads(r.totals))
            for r in self._conn.execute(
                sa.select(x.c.flag_id, x.c.user_key, x.c.variant, x.c.exposed_at, x.c.excluded, x.c.totals)
                .where(x.c.flag_id == flag_id, x.c.user_key > after_user)
                .order_by(x.c.user_key).limit(limit)
            )
        ]

    def save_exposures(self, project_id: int, added: Iterable[ExposureState],
                       changed: Iterable[ExposureState]) -> None:
        new_rows = [(s.flag_id, s.user_key, project_id, s.variant, s.exposed_at, s.excluded, json_text(s.totals))
                    for s in added]
        updates = [(s.flag_id, s.user_key, s.variant, s.exposed_at, s.excluded, json_text(s.totals)) for s in changed]
        columns = "flag_id, user_key, project_id, variant, exposed_at, excluded, totals"
        if self._postgres:
            # COPY, not parameters: psycopg quotes each element of a text array in Python, which
            # cost more than the database's work. New rows cannot collide (they were looked up
            # under their users' locks); updates go through a table dropped before the commit.
            driver: Any = self._conn.connection.dbapi_connection
            with driver.cursor() as cursor:
                if new_rows:
                    with cursor.copy(f"COPY experiment_exposures ({columns}) FROM STDIN") as copy:
                        for new_row in new_rows:
                            copy.write_row(new_row)
                if updates:
                    cursor.execute("CREATE TEMPORARY TABLE exposure_updates (flag_id int, user_key text, "
                                   "variant text, exposed_at bigint, excluded boolean, totals text) ON COMMIT DROP")
                    with cursor.copy("COPY exposure_updates FROM STDIN") as copy:
                        for row in updates:
                            copy.write_row(row)
                    cursor.execute(
                        "UPDATE experiment_exposures x SET variant = r.variant, exposed_at = r.exposed_at, "
                        "excluded = r.excluded, totals = r.totals FROM exposure_updates r "
                        "WHERE x.flag_id = r.flag_id AND x.user_key = r.user_key")
                    cursor.execute("DROP TABLE exposure_updates")
            return
        if new_rows:
            self._conn.exec_driver_sql(
                f"INSERT INTO experiment_exposures ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", new_rows)
        if updates:
            self._conn.exec_driver_sql(
                "UPDATE experiment_exposures SET variant = ?3, exposed_at = ?4, excluded = ?5, totals = ?6 "
                "WHERE flag_id = ?1 AND user_key = ?2", updates)

    def drop_totals(self, flag_id: int, aggregate_keys: Collection[str]) -> None:
        for key in aggregate_keys:
            if not _METRIC_KEY.fullmatch(key):
                raise ValueError(f"not a metric's own aggregate key: {key!r}")
            if self._postgres:
                self._conn.exec_driver_sql(
                    "UPDATE experiment_exposures SET totals = (totals::jsonb - %s)::text "
                    "WHERE flag_id = %s AND totals::jsonb ? %s", (key, flag_id, key))
            else:
                path = f'$."{key}"'
                self._conn.exec_driver_sql(
                    "UPDATE experiment_exposures SET totals = json_remove(totals, ?) "
                    "WHERE flag_id = ? AND json_type(totals, ?) IS NOT NULL", (path, flag_id, path))
        self._delete_sums(flag_id, aggregate_keys)

    def add_variant_stats(self, deltas: dict[SumsKey, Sums], hour: int) -> None:
        rows: list[tuple[Any, ...]] = [(flag_id, key, variant, *values) for (flag_id, key, variant), values
                                       in sorted(deltas.items()) if any(values)]
        if not rows:
            return
        self._add_sums("experiment_variant_stats", ("flag_id", "aggregate_key", "variant"), rows)
        # The hour keys are a time series already: a history of them would only repeat them.
        self._add_sums("experiment_variant_history", ("flag_id", "aggregate_key", "variant", "hour"),
                       [(*row[:3], hour, *row[3:]) for row in rows if not is_hour_key(row[1])])

    def replace_variant_stats(self, flag_id: int, aggregate_key: str,
                              sums: dict[SumsKey, Sums], hour: int) -> None:
        self._delete_sums(flag_id, [aggregate_key])
        self.add_variant_stats({k: v for k, v in sums.items() if k[:2] == (flag_id, aggregate_key)}, hour)

    def _add_sums(self, table: str, keys: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """Upsert rows of (*keys, *sums): a row already there gets the sums added to its own."""
        if not rows:
            return
        columns = (*keys, *SUM_NAMES)
        self._conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([self._mark] * len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
            + ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in SUM_NAMES), rows)

    def _delete_sums(self, flag_id: int, aggregate_keys: Collection[str]) -> None:
        """Remove keys' sums and their history."""
        for table in (experiment_variant_stats, experiment_variant_history):
            self._conn.execute(sa.delete(table).where(table.c.flag_id == flag_id,
                                                      table.c.aggregate_key.in_(list(aggregate_keys))))

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
                      "property": metric.property, "kind": metric.kind.value, "filters": metric.filters,
                      "role": metric.role.value, "direction": metric.direction.value,
                      "non_inferiority_margin": metric.non_inferiority_margin}
            metric_id = existing.get(_identity(metric))
            if metric_id is None:
                self._conn.execute(sa.insert(m).values(flag_id=flag_id, **values))
            else:
                self._conn.execute(sa.update(m).where(m.c.id == metric_id).values(**values))
        return self.metrics(flag_id)

    # --- analysis settings and their record ---------------------------------------------

    def analysis(self, flag_id: int) -> dict[str, Any] | None:
        return analysis_records.stored_analysis(self._conn, flag_id)

    def save_analysis(self, flag_id: int, settings: dict[str, Any]) -> None:
        analysis_records.save_analysis(self._conn, flag_id, settings)

    def record_change(self, change: AnalysisChange) -> None:
        analysis_records.record_change(self._conn, change)

    def claim_reallocation(self, flag_id: int, interval: int) -> bool:
        return analysis_records.claim_reallocation(self._conn, flag_id, interval)


def _identity(metric: Metric) -> str:
    return json_text([metric.event_type, metric.property, metric.kind.value, metric.filters])


def _metric(row: Any) -> Metric:
    return Metric(event_type=row.event_type, kind=MetricKind(row.kind), property=row.property,
                  filters=list(row.filters or []), name=row.name, id=row.id, role=Role(row.role),
                  direction=Direction(row.direction), non_inferiority_margin=row.non_inferiority_margin)


def _event(raw: dict[str, Any]) -> Event:
    return Event(
        event_type=raw["event_type"], user_id=raw.get("user_id"), device_id=raw.get("device_id"),
        time=raw["time"], insert_id=raw.get("insert_id"),
        event_properties=raw.get("event_properties") or {},
        user_properties=raw.get("user_properties") or {}, raw=raw,
    )


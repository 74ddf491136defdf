"""SQL side of event ingestion: raw events, exposures, per-user totals and metric definitions.

The paths taken for every event go straight to the driver, because building SQLAlchemy
parameters for each row cost more than the database did (profiled): raw events are
`COPY`-ed on PostgreSQL and `executemany`-ed on SQLite; lookups pass a whole key list as one
parameter (a JSON text: `json_array_elements_text` on PostgreSQL, `json_each` on SQLite).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from flagyard.domain.events import Event
from flagyard.domain.exposures import ExperimentTrigger
from flagyard.domain.metrics import Metric, MetricKind
from flagyard.services.event_ports import (
    ExperimentSetup,
    ExposureState,
    StatsKey,
    Totals,
    TotalsKey,
)
from flagyard.store.tables import (
    experiment_exposures,
    experiment_metrics,
    experiment_user_totals,
    experiment_variant_stats,
    flags,
)

CHUNK = 20_000  # keys per lookup parameter
# Rows of six values per multi-row statement: within SQLite's 32,766 parameters (3.32+).
SQLITE_ROWS_PER_STATEMENT = 5000


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for n in range(0, len(values), size):
        yield values[n:n + size]


def _dump(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits, which the stdlib writes as is
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SqlEventStore:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection
        self._postgres = connection.dialect.name == "postgresql"
        self._mark = "%s" if self._postgres else "?"

    def _in_list(self, column: str, values: Sequence[str]) -> tuple[str, Any]:
        """SQL testing `column` against a list passed as one parameter, and that parameter."""
        # A JSON text either way: the databases parse it faster than the driver adapts a list.
        # Not `= ANY(%s)` on PostgreSQL: once prepared, its generic plan scanned the project's
        # rows and tested each against the whole list.
        if self._postgres:
            return f"{column} IN (SELECT json_array_elements_text(%s::json))", orjson.dumps(list(values)).decode()
        return f"{column} IN (SELECT value FROM json_each(?))", orjson.dumps(list(values)).decode()

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return list(self._conn.exec_driver_sql(sql, params).all())

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
            test, param = self._in_list("dedup_key", chunk)
            found.update(r[0] for r in self._rows(
                f"SELECT dedup_key FROM events WHERE project_id = {self._mark} AND {test}", (project_id, param)))
        return found

    def add_events(self, project_id: int, batch: Sequence[Event], received_at: int) -> None:
        rows = [(project_id, e.dedup_key, e.event_type, e.user_key, e.time, received_at, _dump(e.raw))
                for e in batch]
        columns = "project_id, dedup_key, event_type, user_key, time, received_at, body"
        if self._postgres:
            # Duplicates were filtered out under this project's lock, so COPY cannot collide.
            driver: Any = self._conn.connection.dbapi_connection
            with driver.cursor() as cursor, cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            self._conn.exec_driver_sql(f"INSERT INTO events ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def events_of(self, project_id: int, user_keys: Collection[str], since: int) -> list[Event]:
        found: list[Event] = []
        m = self._mark
        for chunk in _chunks(sorted(user_keys)):
            test, param = self._in_list("user_key", chunk)
            for (body,) in self._rows(
                f"SELECT body FROM events WHERE project_id = {m} AND {test} AND time >= {m} ORDER BY id",
                (project_id, param, since),
            ):
                found.append(_event(orjson.loads(body)))
        return found

    # --- exposures ------------------------------------------------------------------------

    def exposures_of(self, project_id: int, user_keys: Collection[str]) -> list[ExposureState]:
        found: list[ExposureState] = []
        for chunk in _chunks(sorted(user_keys)):
            test, param = self._in_list("user_key", chunk)
            found.extend(
                ExposureState(r[0], r[1], r[2], r[3], bool(r[4])) for r in self._rows(
                    "SELECT flag_id, user_key, variant, exposed_at, excluded FROM experiment_exposures "
                    f"WHERE project_id = {self._mark} AND {test}", (project_id, param))
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
        m = self._mark
        new_rows = [(s.flag_id, s.user_key, project_id, s.variant, s.exposed_at, s.excluded) for s in added]
        if new_rows:
            self._conn.exec_driver_sql(
                "INSERT INTO experiment_exposures (flag_id, user_key, project_id, variant, exposed_at, excluded) "
                f"VALUES ({m}, {m}, {m}, {m}, {m}, {m})", new_rows)
        updates = [(s.variant, s.exposed_at, s.excluded, s.flag_id, s.user_key) for s in changed]
        if updates:
            self._conn.exec_driver_sql(
                f"UPDATE experiment_exposures SET variant = {m}, exposed_at = {m}, excluded = {m} "
                f"WHERE flag_id = {m} AND user_key = {m}", updates)

    # --- totals ---------------------------------------------------------------------------

    def add_totals(self, totals: dict[TotalsKey, Totals]) -> dict[TotalsKey, Totals]:
        """One upsert that also answers the stored values (RETURNING), so keeping the sums of
        squares needs no read of the old values."""
        least = "least" if self._postgres else "min"
        columns = "flag_id, aggregate_key, user_key, count, total, first_at"
        upsert = (
            "ON CONFLICT (flag_id, aggregate_key, user_key) DO UPDATE SET "
            "count = experiment_user_totals.count + excluded.count, "
            "total = experiment_user_totals.total + excluded.total, "
            f"first_at = {least}(experiment_user_totals.first_at, excluded.first_at) RETURNING {columns}")
        stored: dict[TotalsKey, Totals] = {}
        items = sorted(totals.items())
        cursor: Any = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for chunk in _chunks(items, CHUNK if self._postgres else SQLITE_ROWS_PER_STATEMENT):
            if self._postgres:
                # One JSON text, parsed by the server: the driver's array adaptation costs more.
                cursor.execute(
                    f"INSERT INTO experiment_user_totals ({columns}) SELECT * FROM json_to_recordset(%s::json) "
                    "AS r(flag_id int, aggregate_key text, user_key text, count bigint, total float8, "
                    "first_at bigint) " + upsert,
                    (orjson.dumps([{"flag_id": f, "aggregate_key": key, "user_key": user, "count": v.count,
                                    "total": v.total, "first_at": v.first_at}
                                   for (f, user, key), v in chunk]).decode(),))
            else:
                cursor.execute(
                    f"INSERT INTO experiment_user_totals ({columns}) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk)) + " " + upsert,
                    [x for (f, user, key), v in chunk for x in (f, key, user, v.count, v.total, v.first_at)])
            for flag_id, key, user, count, total, first_at in cursor.fetchall():
                stored[(flag_id, user, key)] = Totals(count, total, first_at)
        cursor.close()
        return stored

    def drop_totals(self, flag_id: int, aggregate_keys: Collection[str]) -> None:
        keys = list(aggregate_keys)
        for table in (experiment_user_totals, experiment_variant_stats):
            self._conn.execute(sa.delete(table).where(table.c.flag_id == flag_id, table.c.aggregate_key.in_(keys)))

    def totals_of(self, flag_ids: Collection[int], user_keys: Collection[str]) -> dict[TotalsKey, Totals]:
        found: dict[TotalsKey, Totals] = {}
        flags = ", ".join(str(int(f)) for f in flag_ids)
        if not flags:
            return found
        for chunk in _chunks(sorted(user_keys)):
            test, param = self._in_list("user_key", chunk)
            for flag_id, key, user, count, total, first_at in self._rows(
                "SELECT flag_id, aggregate_key, user_key, count, total, first_at FROM experiment_user_totals "
                f"WHERE flag_id IN ({flags}) AND {test}", (param,)
            ):
                found[(flag_id, user, key)] = Totals(count, total, first_at)
        return found

    def add_variant_stats(self, deltas: dict[StatsKey, list[float]]) -> None:
        m = self._mark
        rows = [(flag_id, key, variant, *values) for (flag_id, key, variant), values in sorted(deltas.items())
                if any(values)]
        if not rows:
            return
        names = ("users", "excluded", "count_sum", "count_squares", "total_sum", "total_squares")
        self._conn.exec_driver_sql(
            f"INSERT INTO experiment_variant_stats (flag_id, aggregate_key, variant, {', '.join(names)}) "
            f"VALUES ({', '.join([m] * 9)}) ON CONFLICT (flag_id, aggregate_key, variant) DO UPDATE SET "
            + ", ".join(f"{n} = experiment_variant_stats.{n} + excluded.{n}" for n in names), rows)

    def recompute_variant_stats(self, flag_id: int, aggregate_key: str) -> None:
        """The sums of one aggregate key from the per-user rows (after a rebuild)."""
        m = self._mark
        self._conn.exec_driver_sql(
            f"DELETE FROM experiment_variant_stats WHERE flag_id = {m} AND aggregate_key = {m}",
            (flag_id, aggregate_key))
        self._conn.exec_driver_sql(
            "INSERT INTO experiment_variant_stats (flag_id, aggregate_key, variant, users, excluded, "
            "count_sum, count_squares, total_sum, total_squares) "
            f"SELECT t.flag_id, t.aggregate_key, x.variant, count(*), 0, sum(t.count), sum(t.count * t.count), "
            "sum(t.total), sum(t.total * t.total) FROM experiment_user_totals t "
            "JOIN experiment_exposures x ON x.flag_id = t.flag_id AND x.user_key = t.user_key "
            f"WHERE t.flag_id = {m} AND t.aggregate_key = {m} AND x.exposed_at IS NOT NULL "
            f"AND x.excluded = {m} GROUP BY t.flag_id, t.aggregate_key, x.variant",
            (flag_id, aggregate_key, False))

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

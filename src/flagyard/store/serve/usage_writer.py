"""Adds a process's counted evaluations to the stored sums, one transaction per flush.

Counts arrive by flag key; the keys are looked up per project in one query. Each row is an
upsert that adds to the day's sum, so several processes flushing the same flag add up. Rows
go in primary-key order, so two processes upserting the same rows on PostgreSQL take their
locks in the same order and never deadlock. Days older than the retention go, except each
flag and deployment's latest, which keeps the last evaluation's time however old.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from flagyard.serve.usage import UsageCount, UsageWriter
from flagyard.store.db import WRITE_OPTION
from flagyard.store.long_lists import among
from flagyard.store.tables import flag_usage, flags

RETENTION_DAYS = 90
PRUNE_EVERY_SECONDS = 3600.0


def usage_writer(engine: Engine) -> UsageWriter:
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(flag_usage)
    upsert = statement.on_conflict_do_update(
        index_elements=[flag_usage.c.flag_id, flag_usage.c.deployment_id, flag_usage.c.day],
        set_={
            "evaluations": flag_usage.c.evaluations + statement.excluded.evaluations,
            "last_evaluated_at": sa.case(
                (statement.excluded.last_evaluated_at > flag_usage.c.last_evaluated_at,
                 statement.excluded.last_evaluated_at),
                else_=flag_usage.c.last_evaluated_at),
        },
    )
    pruned_at = [0.0]

    def write(counts: Sequence[UsageCount]) -> None:
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
            rows = _rows(connection, counts)
            if rows:
                connection.execute(upsert, rows)
            if time.monotonic() - pruned_at[0] >= PRUNE_EVERY_SECONDS:
                _prune(connection, datetime.now(UTC) - timedelta(days=RETENTION_DAYS))
                pruned_at[0] = time.monotonic()

    return write


def _rows(connection: sa.Connection, counts: Sequence[UsageCount]) -> list[dict[str, Any]]:
    keys_by_project: dict[int, set[str]] = defaultdict(set)
    for count in counts:
        keys_by_project[count.project_id].add(count.flag_key)
    ids: dict[tuple[int, str], int] = {}
    for project_id, keys in keys_by_project.items():
        found = connection.execute(sa.select(flags.c.key, flags.c.id).where(
            flags.c.project_id == project_id, among(connection, flags.c.key, keys)))
        ids.update({(project_id, key): flag_id for key, flag_id in found})
    rows = [
        {"flag_id": ids[(count.project_id, count.flag_key)], "deployment_id": count.deployment_id,
         "day": count.day, "evaluations": count.evaluations, "last_evaluated_at": count.last_evaluated_at}
        for count in counts if (count.project_id, count.flag_key) in ids  # a flag deleted since
    ]
    return sorted(rows, key=lambda row: (row["flag_id"], row["deployment_id"], row["day"]))


def _prune(connection: sa.Connection, before: datetime) -> None:
    newer = flag_usage.alias("newer")
    connection.execute(sa.delete(flag_usage).where(
        flag_usage.c.day < before.date(),
        sa.exists().where(newer.c.flag_id == flag_usage.c.flag_id,
                          newer.c.deployment_id == flag_usage.c.deployment_id,
                          newer.c.day > flag_usage.c.day),
    ))

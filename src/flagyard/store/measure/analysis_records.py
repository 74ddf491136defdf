"""SQL side of an experiment's analysis settings and of the record of analysis changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flagyard.manage.model.audit import changed_fields
from flagyard.measure.ports import AnalysisChange
from flagyard.store.tables import audit_log, experiment_analysis, experiment_analysis_changes, flags

a = experiment_analysis
c = experiment_analysis_changes


def stored_analysis(conn: sa.Connection, flag_id: int) -> dict[str, Any] | None:
    return conn.execute(sa.select(a.c.settings).where(a.c.flag_id == flag_id)).scalar_one_or_none()


def save_analysis(conn: sa.Connection, flag_id: int, settings: dict[str, Any]) -> None:
    if conn.execute(sa.update(a).where(a.c.flag_id == flag_id).values(settings=settings)).rowcount == 0:
        conn.execute(sa.insert(a).values(flag_id=flag_id, settings=settings))


def record_change(conn: sa.Connection, change: AnalysisChange) -> None:
    """The experiment's own record of the change, and the same change in the audit log."""
    conn.execute(sa.insert(c).values(
        flag_id=change.flag_id, changed_at=change.changed_at, actor=change.actor,
        subject=change.subject, before=change.before, after=change.after))
    project_id = conn.execute(sa.select(flags.c.project_id).where(flags.c.id == change.flag_id)).scalar_one_or_none()
    before, after = (change.before, change.after) if change.subject == "metrics" else \
        changed_fields(change.before, change.after)
    conn.execute(sa.insert(audit_log).values(
        at=datetime.fromtimestamp(change.changed_at / 1000, tz=UTC), actor=change.actor,
        action=f"experiment.{change.subject}_changed", subject_type="experiment", subject_id=str(change.flag_id),
        project_id=project_id, before=before, after=after, client=change.client))


def changes(conn: sa.Connection, flag_id: int, limit: int) -> list[AnalysisChange]:
    rows = conn.execute(sa.select(c).where(c.c.flag_id == flag_id).order_by(c.c.id.desc()).limit(limit))
    return [AnalysisChange(flag_id=r.flag_id, changed_at=r.changed_at, actor=r.actor, subject=r.subject,
                           before=r.before, after=r.after, id=r.id) for r in rows]


def analysed_experiments(conn: sa.Connection) -> list[tuple[int, dict[str, Any]]]:
    return [(r.flag_id, r.settings) for r in conn.execute(sa.select(a.c.flag_id, a.c.settings))]


def claim_reallocation(conn: sa.Connection, flag_id: int, interval: int) -> bool:
    """An upsert that changes the row only for a later interval: it returns a row only then."""
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    found = conn.exec_driver_sql(
        f"INSERT INTO bandit_reallocations (flag_id, claimed_interval) VALUES ({mark}, {mark}) "
        "ON CONFLICT (flag_id) DO UPDATE SET claimed_interval = excluded.claimed_interval "
        "WHERE bandit_reallocations.claimed_interval < excluded.claimed_interval RETURNING flag_id",
        (flag_id, interval)).first()
    return found is not None

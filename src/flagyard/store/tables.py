"""Table definitions: the single source for the schema and for Alembic's autogenerate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flagyard.measure.model.sums import SUM_NAMES, USER_COUNTS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)



class UtcTimestamp(sa.TypeDecorator[datetime]):
    """A moment stored in UTC and read back timezone-aware in UTC on every database.

    SQLite keeps no offset: without this it stores an aware time's wall clock (the wrong
    instant unless the offset is zero) and reads back naive times, PostgreSQL aware ones.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = UtcTimestamp()
# Plain JSON, not JSONB: JSONB reorders object keys and payloads must read back as written.
Json = sa.JSON()

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # Bumped in the same transaction as every change to the project's flags or deployments;
    # evaluation caches compare it to know when to recompile.
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
    sqlite_autoincrement=True,
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("key", sa.String(100), nullable=False, unique=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # Changes to its flags become change requests that someone else approves.
    sa.Column("require_approval", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("project_id", "label"),
    sqlite_autoincrement=True,
)

flags = sa.Table(
    "flags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("evaluation_mode", sa.String(16), nullable=False),
    sa.Column("bucketing_key", sa.Text, nullable=False),
    sa.Column("bucketing_salt", sa.Text, nullable=False),
    sa.Column("bucketing_unit", sa.Text, nullable=False),
    sa.Column("rollout_percentage", sa.Integer, nullable=False),
    sa.Column("target_segments", Json, nullable=False),
    sa.Column("parent_dependencies", Json, nullable=True),
    sa.Column("sticky_bucketing", sa.Boolean, nullable=False),
    sa.Column("started", sa.Boolean, nullable=False),
    sa.Column("start_date", sa.Text, nullable=True),
    sa.Column("end_date", sa.Text, nullable=True),
    sa.Column("experiment_type", sa.String(32), nullable=True),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("tags", Json, nullable=False),
    sa.Column("decision", sa.String(32), nullable=True),
    sa.Column("decision_reason", sa.Text, nullable=True),
    sa.Column("rolled_out_variant", sa.Text, nullable=True),
    sa.Column("exposure_event", Json, nullable=True),
    sa.Column("delivery_method", sa.String(16), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("last_modified_by", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # Settings of a holdout or mutex group (kind holdout / mutex); NULL on flags and experiments.
    sa.Column("group_config", Json, nullable=True),
    # Derived at every save (Flag.served_to_everyone): the variant all users get, if one does.
    # With last_modified_at it finds flags fully rolled out for a while.
    sa.Column("served_to_everyone", sa.Text, nullable=True),
    # Flags and experiments share one key namespace per project: SDKs evaluate by key.
    sa.UniqueConstraint("project_id", "key"),
    sa.Index("ix_flags_kind_id", "kind", "id"),
    sqlite_autoincrement=True,
)

variants = sa.Table(
    "variants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("payload", Json, nullable=True),
    sa.Column("rollout_weight", sa.Integer, nullable=False),
    sa.UniqueConstraint("flag_id", "key"),
    sqlite_autoincrement=True,
)

# Inclusions keep their order (removal is by index), so each row's id is its position.
variant_users = sa.Table(
    "variant_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("variant_id", sa.ForeignKey("variants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.UniqueConstraint("variant_id", "user_id"),
    sa.Index("ix_variant_users_variant_id_id", "variant_id", "id"),
    sqlite_autoincrement=True,
)

variant_cohorts = sa.Table(
    "variant_cohorts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("variant_id", sa.ForeignKey("variants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("cohort_id", sa.Text, nullable=False),
    sa.UniqueConstraint("variant_id", "cohort_id"),
    sqlite_autoincrement=True,
)

flag_deployments = sa.Table(
    "flag_deployments",
    metadata,
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("deployment_id", sa.ForeignKey("deployments.id"), primary_key=True, index=True),
    sa.Column("position", sa.Integer, nullable=False),
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("flag_config", Json, nullable=False),
    # Set on a version applied from a change request.
    sa.Column("approved_by", sa.Text, nullable=True),
    sa.Column("change_request_id", sa.Integer, nullable=True),
    # The guard behind "versions run 1, 2, 3 with no duplicate".
    sa.UniqueConstraint("flag_id", "version"),
    sqlite_autoincrement=True,
)

management_keys = sa.Table(
    "management_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hint", sa.String(16), nullable=False),
    sa.Column("read_only", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
    # Writes directly to flags on deployments that require approval (and is recorded doing so).
    sa.Column("bypass_approvals", sa.Boolean, nullable=False, server_default=sa.false()),
    sqlite_autoincrement=True,
)

management_key_projects = sa.Table(
    "management_key_projects",
    metadata,
    sa.Column("key_id", sa.ForeignKey("management_keys.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), primary_key=True),
)

# Snapshot rebuilds ask "which flags of this project changed after version row N?".
sa.Index("ix_versions_project_id_id", versions.c.project_id, versions.c.id)
# Cohorts: named sets of user ids (or group names) that flags target by public id.
cohorts = sa.Table(
    "cohorts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(32), nullable=False, unique=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("group_type", sa.String(200), nullable=False),
    # Kept in step with cohort_members in the same transaction, so lists need no count(*).
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("archived", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    sa.Column("last_modified_by", sa.Text, nullable=False),
    sqlite_autoincrement=True,
)

# One row per member; the primary key serves both "is X in these cohorts" and the download.
# On SQLite the table is the primary-key b-tree itself (WITHOUT ROWID): half the pages.
cohort_members = sa.Table(
    "cohort_members",
    metadata,
    sa.Column("cohort_id", sa.ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("member_id", sa.Text, primary_key=True),
    sqlite_with_rowid=False,
)

# --- schedules: a flag's changes at set times (manage/schedules.py) --------------------------

# Times in these two tables are milliseconds since the epoch.
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "change" or "ramp"
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("cancelled_at", sa.BigInteger, nullable=True),
    sa.Index("ix_schedules_flag_id_id", "flag_id", "id"),
    sqlite_autoincrement=True,
)

# One row per step, in order; the patch is the PATCH body's fields by their Python names.
schedule_steps = sa.Table(
    "schedule_steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("schedule_id", sa.ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("patch", Json, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("applied_at", sa.BigInteger, nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.UniqueConstraint("schedule_id", "position"),
    # Every process asks for the due pending steps every second: a short range of this index.
    sa.Index("ix_schedule_steps_state_at", "state", "at"),
    sqlite_autoincrement=True,
)

# An experiment made as a new run of another (manage/experiment_lifecycle.py): each run has at
# most one next run, so the runs of an experiment form one chain.
experiment_runs = sa.Table(
    "experiment_runs",
    metadata,
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("previous_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False, unique=True),
)

# --- change requests: changes held for approval (manage/change_requests.py) ------------------

change_requests = sa.Table(
    "change_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False),
    sa.Column("flag_key", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),  # "version" or "schedule"
    sa.Column("base_version", sa.Integer, nullable=False),
    sa.Column("proposed", Json, nullable=False),
    sa.Column("deployments", Json, nullable=False),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("author_identity", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reviewed_by", sa.Text, nullable=True),
    sa.Column("reviewed_at", Timestamp, nullable=True),
    sa.Column("applied_by", sa.Text, nullable=True),
    sa.Column("applied_at", Timestamp, nullable=True),
    sa.Column("applied_version", sa.Integer, nullable=True),
    sa.Column("schedule_id", sa.Integer, nullable=True),
    sa.Index("ix_change_requests_project_id_id", "project_id", "id"),
    sa.Index("ix_change_requests_flag_id_status", "flag_id", "status"),
    sqlite_autoincrement=True,
)

change_request_comments = sa.Table(
    "change_request_comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("change_request_id", sa.ForeignKey("change_requests.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sqlite_autoincrement=True,
)

# --- events and experiment results -----------------------------------------------------------

# Ids of high-volume tables: BIGINT on PostgreSQL, the rowid on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Raw analytics events as received (kept whole in `body`). No foreign key to projects: the
# table takes tens of thousands of rows a second and projects are never deleted.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    # "<device_id>\x1f<insert_id>": Amplitude drops an insert_id repeated on one device.
    sa.Column("dedup_key", sa.Text, nullable=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("user_key", sa.Text, nullable=False),
    sa.Column("time", sa.BigInteger, nullable=False),  # ms since the epoch, client clock
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    # Looked up by equality only (duplicates; a newly exposed user's events), so hash indexes
    # on PostgreSQL: much cheaper to insert into at random than B-trees of long text keys.
    # Not unique: the event writer filters duplicates under the project's lock (ADR 0066).
    sa.Index("ix_events_dedup_key", "dedup_key", postgresql_using="hash"),
    sa.Index("ix_events_user_key", "user_key", postgresql_using="hash"),
)

# One row per experiment and user: the variant first seen, when exposure began, and the user's
# events since then (see measure/processing.py) as a JSON object mapping each aggregate
# key to [count, property total, first time]. The aggregate key is an event type,
# "<type>\x1f<property>", or "#<metric id>" for a metric with filters. One row, read and written
# once per batch, because ingestion always needs a user's exposure and totals together.
# On PostgreSQL the table keeps half of each page free (fillfactor 50, set by the migration),
# so those updates stay on their page and leave the indexes alone (HOT updates).
experiment_exposures = sa.Table(
    "experiment_exposures",
    metadata,
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_key", sa.Text, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("variant", sa.Text, nullable=False),
    sa.Column("exposed_at", sa.BigInteger, nullable=True),
    sa.Column("excluded", sa.Boolean, nullable=False),
    sa.Column("totals", sa.Text, nullable=False, server_default="{}"),
    sa.Index("ix_experiment_exposures_project_id_user_key", "project_id", "user_key"),
)

experiment_metrics = sa.Table(
    "experiment_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("property", sa.Text, nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("filters", Json, nullable=False),
    sa.Column("role", sa.String(16), nullable=False, server_default="secondary"),
    sa.Column("direction", sa.String(16), nullable=False, server_default="increase"),
    sa.Column("non_inferiority_margin", sa.Float, nullable=True),
    sqlite_autoincrement=True,
)

# How an experiment's results are analysed (measure/model/analysis.py); no row means the
# defaults. Kept beside the metrics, outside the flag's versions, for the reasons of ADR 63.
experiment_analysis = sa.Table(
    "experiment_analysis",
    metadata,
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("settings", Json, nullable=False),
)

# The last reallocation interval claimed for each bandit experiment (measure/bandits.py): the
# claim is what makes one process, of many, write each interval's reallocation.
bandit_reallocations = sa.Table(
    "bandit_reallocations",
    metadata,
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("claimed_interval", sa.BigInteger, nullable=False),
)

# Every change to an experiment's metrics or analysis settings: who, when, before and after.
# Changing how results are read after seeing them is the easiest way to fool oneself, so it
# stays on the record.
experiment_analysis_changes = sa.Table(
    "experiment_analysis_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False),
    sa.Column("changed_at", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("subject", sa.String(16), nullable=False),  # "metrics" or "analysis"
    sa.Column("before", Json, nullable=False),
    sa.Column("after", Json, nullable=False),
    sa.Index("ix_experiment_analysis_changes_flag_id_id", "flag_id", "id"),
    sqlite_autoincrement=True,
)


def _sum_columns() -> list[sa.Column[Any]]:
    """One column per sum of measure/model/sums.py, in its order: user counts are integers."""
    return [sa.Column(name, sa.BigInteger if n in USER_COUNTS else sa.Float, nullable=False)
            for n, name in enumerate(SUM_NAMES)]


# Per experiment, variant and aggregate key: the sums the results need, kept up to date with
# every change to the tables above (measure/processing.py), so a result reads a handful
# of rows however many users there are. Key "" holds the exposed and excluded users; keys
# "@h<hour since the epoch>" hold the users whose exposure began in that hour.
experiment_variant_stats = sa.Table(
    "experiment_variant_stats",
    metadata,
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("aggregate_key", sa.Text, primary_key=True),
    sa.Column("variant", sa.Text, primary_key=True),
    *_sum_columns(),
)

# What each hour of processing added to the sums above: the row of hour h holds the change
# applied to experiment_variant_stats by batches received in that hour (hours since the epoch),
# so the rows up to h add up to the sums as they stood at the end of hour h (results over
# time). The "@h" keys are left out: they are a time series already.
experiment_variant_history = sa.Table(
    "experiment_variant_history",
    metadata,
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("aggregate_key", sa.Text, primary_key=True),
    sa.Column("variant", sa.Text, primary_key=True),
    sa.Column("hour", sa.BigInteger, primary_key=True),
    *_sum_columns(),
)

# --- webhooks: where changes are sent, the outbox of deliveries, and each attempt -------------

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", Json, nullable=False),
    sa.Column("flag_keys", Json, nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,
)

# The outbox: a row per event per webhook, written in the transaction of the change that raised
# it, so a change that rolls back sends nothing and a committed one is sent after any restart.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("webhook_id", sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
    sqlite_autoincrement=True,
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("delivery_id", sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sqlite_autoincrement=True,
)

# What has been announced about an experiment's results (SRM detected, significant): once each.
experiment_notices = sa.Table(
    "experiment_notices",
    metadata,
    sa.Column("flag_id", sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("notice", sa.String(64), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# Work one process does at a time (sending webhooks): who holds it and until when.
job_leases = sa.Table(
    "job_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)


# Every change anywhere and every sign-in, append-only (manage/model/audit.py). Nothing updates
# or deletes a row.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(32), nullable=False),
    sa.Column("subject_id", sa.Text, nullable=True),
    sa.Column("project_id", sa.Integer, nullable=True),
    sa.Column("before", Json, nullable=True),
    sa.Column("after", Json, nullable=True),
    sa.Column("client", sa.Text, nullable=True),
    sa.Index("ix_audit_log_actor_id", "actor", "id"),
    sqlite_autoincrement=True,
)


# --- console: people, their sessions, and the sign-in throttle --------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # Signs in through the identity provider (ADR 0087); a user it created has no usable password.
    sa.Column("sso", sa.Boolean, nullable=False, server_default=sa.false()),
    sqlite_autoincrement=True,
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    # SHA-256 of the cookie value: the table alone opens no session.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False, index=True),
    sqlite_autoincrement=True,
)

sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    # `email:<address>` or `ip:<address>`: both are throttled, each on its own.
    sa.Column("subject", sa.String(300), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", Timestamp, nullable=True),
)


# Evaluations counted in the serving path, per flag, deployment and UTC day (serve/usage.py):
# every process adds its counts with an upsert, so the rows are sums over processes.
flag_usage = sa.Table(
    "flag_usage",
    metadata,
    sa.Column("flag_id", sa.Integer, primary_key=True),
    sa.Column("deployment_id", sa.Integer, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("evaluations", sa.BigInteger, nullable=False),
    sa.Column("last_evaluated_at", Timestamp, nullable=False),
)

"""events: hash indexes for equality lookups; exposure rows updated in place

Ingestion inserts every event into the events table's indexes at random places, and only ever
looks them up by equality (a duplicate's key, a newly exposed user's events). On PostgreSQL,
hash indexes on the dedup key and the user cost a fraction of the composite B-trees to insert
into; SQLite gets plain indexes on the same columns. The dedup key is no longer unique: the
event writer already filters duplicates under the project's lock, and one fewer index is what
the change is for. PostgreSQL also keeps half of each exposure page free, so the update of a
user's exposure row is a HOT update that touches no index.

Revision ID: b0c0e0000012
Revises: b0c0e0000011
Create Date: 2026-12-02 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = 'b0c0e0000012'
down_revision = 'b0c0e0000011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_events_project_id_user_key_time", table_name="events")
    if postgres:
        op.drop_constraint("uq_events_project_id_dedup_key", "events", type_="unique")
    else:
        # SQLite drops a table constraint by rebuilding the table (Alembic's batch mode).
        with op.batch_alter_table("events") as batch:
            batch.drop_constraint("uq_events_project_id_dedup_key", type_="unique")
    op.create_index("ix_events_dedup_key", "events", ["dedup_key"], postgresql_using="hash")
    op.create_index("ix_events_user_key", "events", ["user_key"], postgresql_using="hash")
    if postgres:
        op.execute("ALTER TABLE experiment_exposures SET (fillfactor = 50)")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE experiment_exposures RESET (fillfactor)")
    op.drop_index("ix_events_user_key", table_name="events")
    op.drop_index("ix_events_dedup_key", table_name="events")
    if postgres:
        op.create_unique_constraint("uq_events_project_id_dedup_key", "events", ["project_id", "dedup_key"])
    else:
        with op.batch_alter_table("events") as batch:
            batch.create_unique_constraint("uq_events_project_id_dedup_key", ["project_id", "dedup_key"])
    op.create_index("ix_events_project_id_user_key_time", "events", ["project_id", "user_key", "time"])

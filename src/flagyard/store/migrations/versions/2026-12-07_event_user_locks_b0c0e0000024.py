"""event_user_locks: event writers of several processes lock a project's users, not the project

A row per user key and device id ingestion has seen in a project, there only to be locked by the
transaction that stores their events (ADR 0098). The table starts empty: the first writer that
needs a row inserts it (a second one waits for that insert), so the upgrade does not read the
events table.

Revision ID: b0c0e0000024
Revises: b0c0e0000025
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000024'
down_revision = 'b0c0e0000025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_user_locks",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("project_id", "key", name=op.f("pk_event_user_locks")),
    )


def downgrade() -> None:
    op.drop_table("event_user_locks")

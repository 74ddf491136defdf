"""audit log: every change anywhere and every sign-in, append-only

One row per change (flags and experiments and groups by version, deployments, keys, users,
cohorts, webhooks, schedules, analysis settings and metrics) and per sign-in attempt: when, who
(a person, a key's name or the system), what, before and after (the changed fields), and the
client's address.

Revision ID: b0c0e0000019
Revises: b0c0e0000018
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000019'
down_revision = 'b0c0e0000018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.Text, nullable=True),
        sa.Column("project_id", sa.Integer, nullable=True),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("client", sa.Text, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")

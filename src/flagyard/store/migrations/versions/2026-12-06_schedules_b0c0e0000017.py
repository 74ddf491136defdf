"""scheduled changes and ramps: a flag's patch, or its rollout percentage, applied at set times

A schedule belongs to one flag or experiment and holds its steps in order: when each is due,
the patch it applies, and what became of it. Every server process looks for due pending steps
(the index on state and time keeps that a short range scan); a step is applied by the one
process whose conditional update moves it from pending, in the transaction that writes the
flag's new version, so a step is applied once however many processes run.

Revision ID: b0c0e0000017
Revises: b0c0e0000016
Create Date: 2026-12-06 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000017'
down_revision = 'b0c0e0000016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("cancelled_at", sa.BigInteger, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_schedules_flag_id_id", "schedules", ["flag_id", "id"])
    op.create_table(
        "schedule_steps",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("schedule_id", sa.Integer, sa.ForeignKey("schedules.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("patch", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("applied_at", sa.BigInteger, nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.UniqueConstraint("schedule_id", "position", name="uq_schedule_steps_schedule_id_position"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_schedule_steps_state_at", "schedule_steps", ["state", "at"])


def downgrade() -> None:
    op.drop_index("ix_schedule_steps_state_at", table_name="schedule_steps")
    op.drop_table("schedule_steps")
    op.drop_index("ix_schedules_flag_id_id", table_name="schedules")
    op.drop_table("schedules")

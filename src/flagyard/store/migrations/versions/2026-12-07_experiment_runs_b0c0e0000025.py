"""experiment runs: which experiment is a new run of which

Revision ID: b0c0e0000025
Revises: b0c0e0000022
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000025'
down_revision = 'b0c0e0000022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_runs",
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("previous_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
    )


def downgrade() -> None:
    op.drop_table("experiment_runs")

"""bandit reallocations: the last interval claimed per bandit experiment

Every server process asks which bandit experiments are due a new split; the one whose upsert
moves this row to the current interval writes it, so each interval is reallocated once.

Revision ID: b0c0e0000016
Revises: b0c0e0000015
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000016'
down_revision = 'b0c0e0000015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bandit_reallocations",
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("claimed_interval", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bandit_reallocations")

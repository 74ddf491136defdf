"""experiment notices: what has been announced about an experiment's results, once each

Webhooks announce a sample ratio mismatch and a significant primary metric when the results
watch first sees them; this row makes "first" hold across processes and restarts.

Revision ID: b0c0e0000021
Revises: b0c0e0000020
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000021'
down_revision = 'b0c0e0000020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_notices",
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("notice", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("experiment_notices")

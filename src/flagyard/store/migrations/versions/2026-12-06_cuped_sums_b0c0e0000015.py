"""CUPED's sums beside the others: each user's metric before exposure and its cross products

The covariate (the same metric over the days before a user's exposure) and its products with
the metric are kept per variant as the other sums are, in the running totals and their hourly
history, so CUPED results still read a few rows. Existing rows start at zero: the covariate of
users exposed before this revision is counted only once the window is rebuilt (changing
`cupedWindowDays` rebuilds it).

Revision ID: b0c0e0000015
Revises: b0c0e0000014
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000015'
down_revision = 'b0c0e0000014'
branch_labels = None
depends_on = None

COLUMNS = (("pre_users", sa.BigInteger), ("pre_count_sum", sa.Float), ("pre_count_squares", sa.Float),
           ("pre_total_sum", sa.Float), ("pre_total_squares", sa.Float), ("cross_users", sa.BigInteger),
           ("cross_count", sa.Float), ("cross_total", sa.Float))
TABLES = ("experiment_variant_stats", "experiment_variant_history")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for name, kind in COLUMNS:
                batch.add_column(sa.Column(name, kind, nullable=False, server_default="0"))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for name, _ in reversed(COLUMNS):
                batch.drop_column(name)

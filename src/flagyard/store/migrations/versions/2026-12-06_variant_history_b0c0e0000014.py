"""hourly history of the per-variant sums, for results as they stood at any past hour

experiment_variant_stats keeps only the running sums, so a result could be shown as it is
now but never as it was. experiment_variant_history keeps, per hour of processing, what that
hour added to them; adding up the hours to h gives the sums at the end of hour h.

Existing sums have no time: they are put whole into the hour this migration runs, so an
experiment's history starts then. The "@h" keys (exposures by hour) are not copied: they are a
time series already, and ingestion keeps no history of them either.

Revision ID: b0c0e0000014
Revises: b0c0e0000013
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000014'
down_revision = 'b0c0e0000013'
branch_labels = None
depends_on = None

SUMS = "users, excluded, count_sum, count_squares, total_sum, total_squares"


def upgrade() -> None:
    op.create_table(
        "experiment_variant_history",
        sa.Column("flag_id", sa.Integer, nullable=False),
        sa.Column("aggregate_key", sa.Text, nullable=False),
        sa.Column("variant", sa.Text, nullable=False),
        sa.Column("hour", sa.BigInteger, nullable=False),
        sa.Column("users", sa.BigInteger, nullable=False),
        sa.Column("excluded", sa.BigInteger, nullable=False),
        sa.Column("count_sum", sa.Float, nullable=False),
        sa.Column("count_squares", sa.Float, nullable=False),
        sa.Column("total_sum", sa.Float, nullable=False),
        sa.Column("total_squares", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], name="fk_experiment_variant_history_flag_id_flags",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("flag_id", "aggregate_key", "variant", "hour",
                                name="pk_experiment_variant_history"),
    )
    hour = int(time.time() * 1000) // 3_600_000  # hours since the epoch, as ingestion counts them
    # substr, not LIKE: SQLite's LIKE ignores case, and only the exact "@h" prefix marks an hour key.
    op.execute(
        f"INSERT INTO experiment_variant_history (flag_id, aggregate_key, variant, hour, {SUMS}) "
        f"SELECT flag_id, aggregate_key, variant, {hour}, {SUMS} FROM experiment_variant_stats "
        "WHERE substr(aggregate_key, 1, 2) <> '@h'")


def downgrade() -> None:
    op.drop_table("experiment_variant_history")

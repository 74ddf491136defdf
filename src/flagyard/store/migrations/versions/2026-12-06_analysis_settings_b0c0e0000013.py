"""experiment analysis settings, metric roles, and the record of analysis changes

Results gain a choice of test (sequential by default), a confidence level, a correction for
many comparisons and CUPED; metrics gain a role (primary, secondary, guardrail), the direction
that is good and a non-inferiority margin for guardrails. Existing experiments keep their
metrics in order: the first becomes the primary, the rest secondary, as the API's default does.
Changes to metrics and settings are recorded from now on.

Revision ID: b0c0e0000013
Revises: b0c0e0000012
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000013'
down_revision = 'b0c0e0000012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiment_metrics") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="secondary"))
        batch.add_column(sa.Column("direction", sa.String(16), nullable=False, server_default="increase"))
        batch.add_column(sa.Column("non_inferiority_margin", sa.Float, nullable=True))
    op.execute(
        "UPDATE experiment_metrics SET role = 'primary' WHERE id IN "
        "(SELECT m.id FROM experiment_metrics m WHERE m.position = "
        "(SELECT MIN(f.position) FROM experiment_metrics f WHERE f.flag_id = m.flag_id))")
    op.create_table(
        "experiment_analysis",
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("settings", sa.JSON, nullable=False),
    )
    op.create_table(
        "experiment_analysis_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False),
        sa.Column("changed_at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("after", sa.JSON, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_experiment_analysis_changes_flag_id_id", "experiment_analysis_changes",
                    ["flag_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_experiment_analysis_changes_flag_id_id", table_name="experiment_analysis_changes")
    op.drop_table("experiment_analysis_changes")
    op.drop_table("experiment_analysis")
    with op.batch_alter_table("experiment_metrics") as batch:
        batch.drop_column("non_inferiority_margin")
        batch.drop_column("direction")
        batch.drop_column("role")

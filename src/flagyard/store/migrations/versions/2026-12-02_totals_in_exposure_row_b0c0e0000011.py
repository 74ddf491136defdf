"""per-user totals move into the user's exposure row

Ingestion read each batch's exposure rows anyway and then upserted one totals row per user
and aggregate key; one row per user and experiment, carrying its totals as a JSON object
(`{"<aggregate key>": [count, total, first_at]}`), is read and written once per batch.

Revision ID: b0c0e0000011
Revises: b0c0e0000010
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000011'
down_revision = 'b0c0e0000010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("experiment_exposures") as batch:
        batch.add_column(sa.Column("totals", sa.Text, nullable=False, server_default="{}"))
    if postgres:
        op.execute(
            "UPDATE experiment_exposures x SET totals = s.totals FROM (SELECT flag_id, user_key, "
            "json_object_agg(aggregate_key, json_build_array(count, total, first_at))::text AS totals "
            "FROM experiment_user_totals GROUP BY flag_id, user_key) s "
            "WHERE x.flag_id = s.flag_id AND x.user_key = s.user_key")
    else:
        op.execute(
            "UPDATE experiment_exposures SET totals = (SELECT json_group_object(t.aggregate_key, "
            "json_array(t.count, t.total, t.first_at)) FROM experiment_user_totals t "
            "WHERE t.flag_id = experiment_exposures.flag_id AND t.user_key = experiment_exposures.user_key) "
            "WHERE EXISTS (SELECT 1 FROM experiment_user_totals t WHERE t.flag_id = experiment_exposures.flag_id "
            "AND t.user_key = experiment_exposures.user_key)")
    op.drop_table("experiment_user_totals")


def downgrade() -> None:
    op.create_table(
        "experiment_user_totals",
        sa.Column("flag_id", sa.Integer, nullable=False),
        sa.Column("aggregate_key", sa.Text, nullable=False),
        sa.Column("user_key", sa.Text, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("total", sa.Float, nullable=False),
        sa.Column("first_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], name="fk_experiment_user_totals_flag_id_flags",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("flag_id", "user_key", "aggregate_key", name="pk_experiment_user_totals"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "INSERT INTO experiment_user_totals (flag_id, aggregate_key, user_key, count, total, first_at) "
            "SELECT x.flag_id, j.key, x.user_key, (j.value->>0)::bigint, (j.value->>1)::float8, "
            "(j.value->>2)::bigint FROM experiment_exposures x, json_each(x.totals::json) j")
    else:
        op.execute(
            "INSERT INTO experiment_user_totals (flag_id, aggregate_key, user_key, count, total, first_at) "
            "SELECT x.flag_id, j.key, x.user_key, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), "
            "json_extract(j.value, '$[2]') FROM experiment_exposures x, json_each(x.totals) j")
    with op.batch_alter_table("experiment_exposures") as batch:
        batch.drop_column("totals")

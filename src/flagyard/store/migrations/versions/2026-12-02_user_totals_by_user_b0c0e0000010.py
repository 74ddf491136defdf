"""per-user totals keyed by user before aggregate key

Ingestion reads a batch's users' totals; with the user second in the primary key that is an
index range per user instead of a scan of the experiment's totals.

Revision ID: b0c0e0000010
Revises: b0c0e0000007
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = 'b0c0e0000010'
down_revision = 'b0c0e0000007'
branch_labels = None
depends_on = None

COLUMNS = "flag_id, aggregate_key, user_key, count, total, first_at"


def _rekey(*key: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE experiment_user_totals DROP CONSTRAINT pk_experiment_user_totals")
        op.execute(f"ALTER TABLE experiment_user_totals ADD CONSTRAINT pk_experiment_user_totals "
                   f"PRIMARY KEY ({', '.join(key)})")
        return
    # SQLite cannot change a primary key in place: a new table, the rows, the old name.
    op.execute(f"""CREATE TABLE experiment_user_totals_rekeyed (
        flag_id INTEGER NOT NULL, aggregate_key TEXT NOT NULL, user_key TEXT NOT NULL,
        count BIGINT NOT NULL, total FLOAT NOT NULL, first_at BIGINT NOT NULL,
        CONSTRAINT pk_experiment_user_totals PRIMARY KEY ({', '.join(key)}),
        CONSTRAINT fk_experiment_user_totals_flag_id_flags FOREIGN KEY(flag_id)
            REFERENCES flags (id) ON DELETE CASCADE)""")
    op.execute(f"INSERT INTO experiment_user_totals_rekeyed ({COLUMNS}) "
               f"SELECT {COLUMNS} FROM experiment_user_totals")
    op.execute("DROP TABLE experiment_user_totals")
    op.execute("ALTER TABLE experiment_user_totals_rekeyed RENAME TO experiment_user_totals")


def upgrade() -> None:
    _rekey("flag_id", "user_key", "aggregate_key")


def downgrade() -> None:
    _rekey("flag_id", "aggregate_key", "user_key")

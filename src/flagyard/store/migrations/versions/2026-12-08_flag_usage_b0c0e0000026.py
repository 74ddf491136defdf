"""flag usage: evaluations per flag, deployment and day; the variant a flag serves to everyone

Revision ID: b0c0e0000026
Revises: b0c0e0000025
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000026'
down_revision = 'b0c0e0000025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flag_usage",
        sa.Column("flag_id", sa.Integer, nullable=False),
        sa.Column("deployment_id", sa.Integer, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("evaluations", sa.BigInteger, nullable=False),
        sa.Column("last_evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flag_id", "deployment_id", "day", name="pk_flag_usage"),
    )
    op.add_column('flags', sa.Column('served_to_everyone', sa.Text(), nullable=True))
    _fill_served_to_everyone()


def downgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite 3.35 and later): a batch operation would
    # copy the flags table, and dropping the original would cascade to every row that
    # references a flag.
    op.execute("ALTER TABLE flags DROP COLUMN served_to_everyone")
    op.drop_table("flag_usage")


def _fill_served_to_everyone() -> None:
    """The column for existing flags, by the rule the application applies at every save then:
    on, no prerequisite, the rollout and every targeted segment at 100 % to one same variant."""
    conn = op.get_bind()
    candidates = conn.execute(sa.text(
        "SELECT id, target_segments, parent_dependencies FROM flags WHERE enabled AND NOT deleted"
        " AND rollout_percentage = 100 AND kind IN ('flag', 'experiment')")).all()
    for flag_id, segments, parents in candidates:
        weights: dict[str, int] = dict(conn.execute(sa.text(
            "SELECT key, rollout_weight FROM variants WHERE flag_id = :id"), {"id": flag_id}).all())
        served = _served(weights, _loaded(segments) or [], _loaded(parents) or {})
        if served is not None:
            conn.execute(sa.text("UPDATE flags SET served_to_everyone = :served WHERE id = :id"),
                         {"served": served, "id": flag_id})


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _served(weights: dict[str, int], segments: list[dict[str, Any]], parents: dict[str, Any]) -> str | None:
    if parents.get("flags"):
        return None
    served = _sole(100, weights)
    for segment in segments:
        if _sole(segment.get("percentage", 0), segment.get("rolloutWeights") or {}) != served:
            return None
    return served


def _sole(percentage: int, weights: dict[str, int]) -> str | None:
    chosen = [key for key, weight in weights.items() if weight > 0]
    return chosen[0] if percentage == 100 and len(chosen) == 1 else None

"""change requests: deployments that require approval, keys that bypass it, changes held for review

Revision ID: b0c0e0000022
Revises: b0c0e0000021
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'b0c0e0000022'
down_revision = 'b0c0e0000021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("require_approval", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("management_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bypass_approvals", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_by", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("change_request_id", sa.Integer(), nullable=True))
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False),
        sa.Column("flag_key", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("base_version", sa.Integer, nullable=False),
        sa.Column("proposed", sa.JSON, nullable=False),
            sa.Column("deployments", sa.JSON, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("author_identity", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewed_by", sa.Text, nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_by", sa.Text, nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_version", sa.Integer, nullable=True),
        sa.Column("schedule_id", sa.Integer, nullable=True),
        sa.Index("ix_change_requests_project_id_id", "project_id", "id"),
        sa.Index("ix_change_requests_flag_id_status", "flag_id", "status"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "change_request_comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("change_request_id", sa.Integer, sa.ForeignKey("change_requests.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("change_request_comments")
    op.drop_table("change_requests")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_column("change_request_id")
        batch_op.drop_column("approved_by")
    with op.batch_alter_table("management_keys", schema=None) as batch_op:
        batch_op.drop_column("bypass_approvals")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("require_approval")

"""users.sso: people who sign in through the identity provider (OpenID Connect, ADR 0087)

Existing users sign in with their password, so they start as false.

Revision ID: b0c0e0000020
Revises: b0c0e0000019
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000020'
down_revision = 'b0c0e0000019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("sso", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("sso")

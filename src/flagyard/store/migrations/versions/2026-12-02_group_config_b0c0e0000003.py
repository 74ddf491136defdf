"""holdout and mutex groups: their settings on the flags row

Revision ID: b0c0e0000003
Revises: b0c0e0000001
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0c0e0000003'
down_revision = 'b0c0e0000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_config', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_column('group_config')

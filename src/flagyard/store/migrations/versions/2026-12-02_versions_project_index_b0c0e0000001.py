"""versions: index on (project_id, id) for the change feed of snapshot rebuilds

Revision ID: b0c0e0000001
Revises: e7261d6311cb
Create Date: 2026-12-02 09:20:00
"""

from __future__ import annotations

from alembic import op

revision = 'b0c0e0000001'
down_revision = 'e7261d6311cb'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('versions', schema=None) as batch_op:
        batch_op.create_index('ix_versions_project_id_id', ['project_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('versions', schema=None) as batch_op:
        batch_op.drop_index('ix_versions_project_id_id')

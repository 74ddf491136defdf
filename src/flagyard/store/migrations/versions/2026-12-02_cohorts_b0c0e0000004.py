"""cohorts and their members

Revision ID: b0c0e0000004
Revises: b0c0e0000003
Create Date: 2026-12-02 08:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'b0c0e0000004'
down_revision = 'b0c0e0000003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cohorts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('group_type', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('last_modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_modified_by', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_cohorts_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cohorts')),
    sa.UniqueConstraint('public_id', name=op.f('uq_cohorts_public_id')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cohorts_project_id'), ['project_id'], unique=False)

    op.create_table('cohort_members',
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_cohort_members_cohort_id_cohorts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cohort_id', 'member_id', name=op.f('pk_cohort_members')),
    sqlite_with_rowid=False
    )


def downgrade() -> None:
    op.drop_table('cohort_members')
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cohorts_project_id'))

    op.drop_table('cohorts')

"""quality signals, learned quality models, first-seen comments

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quality_signals',
    sa.Column('paper_id', sa.String(length=32), nullable=False),
    sa.Column('signal', sa.String(length=64), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('paper_id', 'signal', 'day')
    )
    with op.batch_alter_table('quality_signals', schema=None) as batch_op:
        batch_op.create_index('ix_quality_signals_day', ['day'], unique=False)
    op.create_table('quality_models',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('meta', sa.Text(), nullable=False),
    sa.Column('model', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('first_comments',
    sa.Column('paper_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated', sa.String(length=10), nullable=True),
    sa.Column('comments', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('paper_id')
    )


def downgrade() -> None:
    op.drop_table('first_comments')
    op.drop_table('quality_models')
    with op.batch_alter_table('quality_signals', schema=None) as batch_op:
        batch_op.drop_index('ix_quality_signals_day')
    op.drop_table('quality_signals')

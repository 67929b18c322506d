"""profile sources, library items, terms and feedback

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('profile_sources',
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('synced_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('user', 'source')
    )
    op.create_table('library_items',
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('paper_id', sa.String(length=32), nullable=False),
    sa.Column('added_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('user', 'source', 'paper_id')
    )
    op.create_table('profile_terms',
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('added_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('user', 'kind', 'value')
    )
    op.create_table('feedback',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('paper_id', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_feedback_user_paper', 'feedback', ['user', 'paper_id'], unique=False)
    # The library is now rebuilt from its sources: existing rows become their source's items.
    op.execute('INSERT INTO library_items ("user", source, paper_id, added_at) '
               'SELECT "user", source, paper_id, added_at FROM library WHERE label > 0')


def downgrade() -> None:
    op.drop_index('ix_feedback_user_paper', table_name='feedback')
    op.drop_table('feedback')
    op.drop_table('profile_terms')
    op.drop_table('library_items')
    op.drop_table('profile_sources')

"""the optional LLM layer: judgements (cache and soft labels) and per-run usage

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('llm_judgements',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('paper_id', sa.String(length=32), nullable=False),
    sa.Column('text_hash', sa.String(length=16), nullable=False),
    sa.Column('prompt_version', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('profile_version', sa.String(length=16), nullable=False),
    sa.Column('relevance', sa.Float(), nullable=False),
    sa.Column('novelty', sa.Float(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('tldr', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('flagged', sa.Integer(), nullable=False),
    sa.Column('tokens', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Float(), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user', 'paper_id', 'text_hash', 'prompt_version', 'model',
                        'profile_version', name='uq_llm_judgements_key')
    )
    with op.batch_alter_table('llm_judgements', schema=None) as batch_op:
        batch_op.create_index('ix_llm_judgements_user_paper', ['user', 'paper_id'],
                              unique=False)
    op.create_table('llm_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('judged', sa.Integer(), nullable=False),
    sa.Column('cached', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Float(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('llm_runs', schema=None) as batch_op:
        batch_op.create_index('ix_llm_runs_user_day', ['user', 'day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('llm_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_llm_runs_user_day')
    op.drop_table('llm_runs')
    with op.batch_alter_table('llm_judgements', schema=None) as batch_op:
        batch_op.drop_index('ix_llm_judgements_user_paper')
    op.drop_table('llm_judgements')

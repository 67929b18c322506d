"""web app: accounts, sessions, full-text search over papers

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# SQLite: an external-content FTS5 index over papers, kept current by triggers (the
# upserts of imports fire them). PostgreSQL searches with to_tsvector (Store.search_text).
FTS = [
    "CREATE VIRTUAL TABLE papers_fts USING fts5(title, abstract, authors, "
    "content='papers', content_rowid='rowid', tokenize='porter unicode61')",
    "CREATE TRIGGER papers_fts_ai AFTER INSERT ON papers BEGIN "
    "INSERT INTO papers_fts(rowid, title, abstract, authors) "
    "VALUES (new.rowid, new.title, new.abstract, new.authors); END",
    "CREATE TRIGGER papers_fts_ad AFTER DELETE ON papers BEGIN "
    "INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors) "
    "VALUES ('delete', old.rowid, old.title, old.abstract, old.authors); END",
    # re-imports rewrite every row with the same text: only a real change touches the index
    "CREATE TRIGGER papers_fts_au AFTER UPDATE OF title, abstract, authors ON papers "
    "WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract "
    "OR old.authors IS NOT new.authors BEGIN "
    "INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors) "
    "VALUES ('delete', old.rowid, old.title, old.abstract, old.authors); "
    "INSERT INTO papers_fts(rowid, title, abstract, authors) "
    "VALUES (new.rowid, new.title, new.abstract, new.authors); END",
    "INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    op.create_table('web_users',
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('password', sa.Text(), nullable=True),
    sa.Column('lang', sa.String(length=8), nullable=True),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('user')
    )
    op.create_table('web_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index('ix_web_sessions_user', 'web_sessions', ['user'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        for stmt in FTS:
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trig in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS papers_fts_{trig}")
        op.execute("DROP TABLE IF EXISTS papers_fts")
    op.drop_index('ix_web_sessions_user', table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('web_users')

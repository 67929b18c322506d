"""PostgreSQL: a GIN index for full-text search (SQLite has its FTS5 table since 0005)

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from papersift.store.schema import PG_SEARCH_DOCUMENT

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_papers_search ON papers USING GIN (({PG_SEARCH_DOCUMENT}))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_papers_search")

"""The store: the only code that touches the database (SQLite by default, PostgreSQL by URL)."""

from papersift.store.db import Store, utcnow

__all__ = ["Store", "utcnow"]

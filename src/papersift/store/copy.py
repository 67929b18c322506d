"""Copy a whole store into another (`papersift migrate-store`): SQLite → PostgreSQL.

Both ends are migrated to the same schema first, then every table is copied in parents-
first order, in batches that each commit on their own. A batch inserts with ON CONFLICT
DO NOTHING, so a copy that was interrupted is finished by running it again (`resume`):
rows already there are skipped, never duplicated. The row counts are compared at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, text

from papersift.errors import StoreError
from papersift.store import schema as t
from papersift.store.db import Store, redacted

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows in the source)


@dataclass
class CopyReport:
    rows: dict[str, int]  # table → rows (equal at both ends)

    def summary(self) -> str:
        return (f"copied {sum(self.rows.values())} rows in {len(self.rows)} tables; "
                "row counts verified")


def _counts(store: Store) -> dict[str, int]:
    with store.begin() as conn:
        return {tab.name: conn.execute(select(func.count()).select_from(tab)).scalar_one()
                for tab in t.metadata.sorted_tables}


def copy_store(src_url: str, dst_url: str, *, batch: int = 5000, resume: bool = False,
               progress: Progress | None = None) -> CopyReport:
    """Copy every table of `src_url` into `dst_url`. A destination that already holds rows is
    refused unless `resume` (finishing an interrupted copy into it)."""
    if src_url == dst_url:
        raise StoreError("migrate-store: source and destination are the same store")
    src, dst = Store(src_url), Store(dst_url)
    try:
        have = _counts(dst)
        if any(have.values()) and not resume:
            full = ", ".join(f"{k} ({v})" for k, v in have.items() if v)
            raise StoreError(f"destination {redacted(dst_url)} is not empty ({full}): give "
                             "--resume to finish an interrupted copy into it, or use an empty "
                             "database")
        want = _counts(src)
        for tab in t.metadata.sorted_tables:  # parents before the tables that refer to them
            if have[tab.name] == want[tab.name]:
                continue
            done = 0
            insert = dst._insert(tab).on_conflict_do_nothing()
            with src.engine.connect() as read:
                rows = read.execution_options(yield_per=batch).execute(select(tab))
                for part in rows.partitions():
                    with dst.begin() as conn:
                        conn.execute(insert, [dict(r._mapping) for r in part])
                    done += len(part)
                    if progress:
                        progress(tab.name, done, want[tab.name])
        _advance_sequences(dst)
        got = _counts(dst)
        if got != want:
            diff = ", ".join(f"{k}: {want[k]} → {got[k]}" for k in want if want[k] != got[k])
            raise StoreError(f"migrate-store: row counts differ after the copy ({diff}): the "
                             "destination held other rows; copy into an empty database")
        return CopyReport(want)
    finally:
        src.close()
        dst.close()


def _advance_sequences(store: Store) -> None:
    """PostgreSQL hands out serial ids from a sequence that copied rows did not advance:
    move each past the largest copied id, or the next insert would collide."""
    if store.engine.dialect.name != "postgresql":
        return
    with store.begin() as conn:
        for tab in t.metadata.sorted_tables:
            pk = list(tab.primary_key.columns)
            if len(pk) == 1 and pk[0].autoincrement is True:
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{tab.name}', '{pk[0].name}'), "
                    f"COALESCE((SELECT MAX({pk[0].name}) FROM {tab.name}), 0) + 1, false)"))

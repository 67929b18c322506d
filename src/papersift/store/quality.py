"""Store queries of the quality signal: dated signals, feedback history, learned models."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, or_, select

from papersift.quality.features import Event
from papersift.records import Paper
from papersift.store import schema as t

if TYPE_CHECKING:
    from papersift.store.db import Store


class QualityQueries:
    """Mixed into `Store`."""

    def add_signals(self: Store, rows: Sequence[tuple[str, str, str, float]]) -> int:
        """Store (paper_id, signal, day, value) rows; a row seen before keeps its first
        value, so re-importing a file changes nothing. Returns how many were new."""
        if not rows:
            return 0
        count = select(func.count()).select_from(t.quality_signals)
        with self.begin() as conn:
            before = conn.execute(count).scalar_one()
            conn.execute(self._insert(t.quality_signals).on_conflict_do_nothing(),
                         [{"paper_id": p, "signal": s, "day": d, "value": v}
                          for p, s, d, v in rows])
            return conn.execute(count).scalar_one() - before

    def keep_first_comments(self: Store, conn: Connection, papers: Sequence[Paper]) -> None:
        """Called by upsert_papers: the first version stored of a paper keeps its comments."""
        rows = [{"paper_id": p.id, "version": p.version, "updated": p.updated,
                 "comments": p.comments} for p in papers]
        if rows:
            conn.execute(self._insert(t.first_comments).on_conflict_do_nothing(), rows)

    def as_first_stored(self: Store, papers: Sequence[Paper]) -> list[Paper]:
        """`papers` with the comments (and version) they had when first stored."""
        first: dict[str, tuple[int, str | None, str | None]] = {}
        q = select(t.first_comments)
        ids = [p.id for p in papers if p.version > 1]
        with self.begin() as conn:
            for i in range(0, len(ids), 500):
                for r in conn.execute(q.where(t.first_comments.c.paper_id.in_(ids[i:i + 500]))):
                    first[r.paper_id] = (r.version, r.updated, r.comments)
        return [replace(p, version=first[p.id][0], updated=first[p.id][1],
                        comments=first[p.id][2]) if p.id in first else p for p in papers]

    def signal_events(self: Store) -> list[Event]:
        q = select(t.quality_signals.c.paper_id, t.quality_signals.c.day,
                   t.quality_signals.c.value)
        with self.begin() as conn:
            return [Event(p, d, "signal", float(v)) for p, d, v in conn.execute(q)]

    def feedback_events(self: Store) -> list[Event]:
        """Every user's ratings (library labels, dated when added) and recommendations
        (digest entries, dated by their digest day)."""
        with self.begin() as conn:
            lib = conn.execute(select(t.library.c.paper_id, t.library.c.added_at,
                                      t.library.c.label)).all()
            recs = conn.execute(select(t.digest_entries.c.paper_id, t.digests.c.day).join(
                t.digests, t.digests.c.id == t.digest_entries.c.digest_id)).all()
        return ([Event(p, a[:10], "rating", float(label)) for p, a, label in lib]
                + [Event(p, d, "recommended") for p, d in recs])

    def paper_history(self: Store) -> list[tuple[str, str, list[str]]]:
        """(id, day known, authors) of every stored paper, for authors' track records."""
        q = select(t.papers.c.id, t.papers.c.announced, t.papers.c.created,
                   t.papers.c.authors)
        with self.begin() as conn:
            rows = conn.execute(q).all()
        return [(pid, announced or created or "", json.loads(authors))
                for pid, announced, created, authors in rows]

    def papers_known_since(self: Store, since: str | None = None) -> list[Paper]:
        """Every stored paper listed (else submitted) on or after `since`, in id order."""
        from papersift.store.db import _row_paper

        q = select(t.papers).order_by(t.papers.c.id)
        if since:
            q = q.where(or_(t.papers.c.announced >= since,
                            t.papers.c.announced.is_(None) & (t.papers.c.created >= since)))
        with self.begin() as conn:
            return [_row_paper(r) for r in conn.execute(q)]

    def save_quality_model(self: Store, meta: dict, blob: bytes) -> int:
        from papersift.store.db import utcnow

        with self.begin() as conn:
            res = conn.execute(t.quality_models.insert().values(
                created_at=utcnow(), meta=json.dumps(meta), model=blob))
            return int(res.inserted_primary_key[0])

    def quality_model(self: Store) -> tuple[dict, bytes] | None:
        """The newest learned model (meta, pickled estimator), or None."""
        q = select(t.quality_models.c.meta, t.quality_models.c.model).order_by(
            t.quality_models.c.id.desc()).limit(1)
        with self.begin() as conn:
            row = conn.execute(q).first()
        return (json.loads(row.meta), row.model) if row else None

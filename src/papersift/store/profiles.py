"""Store methods for imported profile sources, terms and feedback (a mixin of `Store`).

The `library` table is what rankers read. It is rebuilt per paper from `library_items` (one
row per source holding the paper) and `feedback` (the latest 👍/save/👎 wins), so re-imports
never duplicate, a paper two sources share outlives either, and a rating survives re-syncs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy import text as sql

from papersift.names import fold
from papersift.store import schema as t
from papersift.store.fold import folded

LABELS = {"up": 1, "save": 1, "down": -1}  # dismiss hides a paper but teaches nothing
FEEDBACK_SOURCE = "feedback"
# where a user can have something stored (`users`, `has_user`)
_USER_TABLES = (t.profiles, t.profile_sources, t.library, t.profile_terms, t.feedback)


@dataclass
class SourceRow:
    source: str
    kind: str
    location: str
    text: str
    items: int
    synced_at: str


@dataclass
class SyncCounts:
    added: int
    removed: int
    total: int


@dataclass
class FeedbackRow:
    paper_id: str
    action: str
    via: str
    at: str


def norm_title(title: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", title.lower()).strip()


class ProfilesMixin:
    engine: Engine
    _insert: Any  # sqlite.insert or postgresql.insert (both have on_conflict_*)

    if TYPE_CHECKING:  # Store provides it
        def begin(self) -> AbstractContextManager[Connection]: ...

    # --- sources ----------------------------------------------------------------------------

    def sync_source(self, user: str, source: str, kind: str, location: str,
                    paper_ids: Sequence[str], *, text: str = "", additive: bool = False,
                    now: str | None = None) -> SyncCounts:
        """Make `source`'s part of the library exactly `paper_ids` (or add them, if
        `additive`), in one transaction: an import either lands whole or not at all."""
        from papersift.store.db import utcnow

        now = now or utcnow()
        ids = list(dict.fromkeys(paper_ids))
        with self.begin() as conn:
            have = set(conn.execute(select(t.library_items.c.paper_id).where(
                t.library_items.c.user == user, t.library_items.c.source == source)).scalars())
            gone = set() if additive else have - set(ids)
            new = [i for i in ids if i not in have]
            for chunk in _chunks(sorted(gone)):
                conn.execute(t.library_items.delete().where(
                    t.library_items.c.user == user, t.library_items.c.source == source,
                    t.library_items.c.paper_id.in_(chunk)))
            if new:
                conn.execute(t.library_items.insert(), [
                    {"user": user, "source": source, "paper_id": i, "added_at": now}
                    for i in new])
            total = len(have - gone) + len(new)
            row = {"kind": kind, "location": location, "text": text, "items": total,
                   "synced_at": now}
            ins = self._insert(t.profile_sources).values(user=user, source=source, **row)
            conn.execute(ins.on_conflict_do_update(index_elements=["user", "source"], set_=row))
            self._rebuild_library(conn, user, [*gone, *new])
        return SyncCounts(len(new), len(gone), total)

    def remove_source(self, user: str, source: str) -> int:
        """Forget a source and the papers only it held; returns how many it held."""
        with self.begin() as conn:
            ids = list(conn.execute(select(t.library_items.c.paper_id).where(
                t.library_items.c.user == user, t.library_items.c.source == source)).scalars())
            conn.execute(t.library_items.delete().where(t.library_items.c.user == user,
                                                        t.library_items.c.source == source))
            conn.execute(t.profile_sources.delete().where(t.profile_sources.c.user == user,
                                                          t.profile_sources.c.source == source))
            self._rebuild_library(conn, user, ids)
        return len(ids)

    def sources(self, user: str) -> list[SourceRow]:
        q = (select(t.profile_sources).where(t.profile_sources.c.user == user)
             .order_by(t.profile_sources.c.source))
        with self.begin() as conn:
            return [SourceRow(r.source, r.kind, r.location, r.text, r.items, r.synced_at)
                    for r in conn.execute(q)]

    def library_by_source(self, user: str) -> dict[str, int]:
        """Papers per source (a paper two sources hold counts for both), feedback included."""
        q = (select(t.library_items.c.source, func.count()).where(
            t.library_items.c.user == user).group_by(t.library_items.c.source))
        with self.begin() as conn:
            out = dict(conn.execute(q).all())
            for label, n in conn.execute(select(t.library.c.label, func.count()).where(
                    t.library.c.user == user, t.library.c.source == FEEDBACK_SOURCE)
                    .group_by(t.library.c.label)):
                out[f"feedback {'👍' if label > 0 else '👎'}"] = n
        return out

    # --- followed authors, keywords, muted topics -------------------------------------------

    def add_terms(self, user: str, kind: str, values: Sequence[str]) -> int:
        from papersift.store.db import utcnow

        rows = [{"user": user, "kind": kind, "value": v, "added_at": utcnow()}
                for v in dict.fromkeys(values)]
        if not rows:
            return 0
        with self.begin() as conn:
            res = conn.execute(self._insert(t.profile_terms).on_conflict_do_nothing(), rows)
            return int(res.rowcount or 0)

    def remove_terms(self, user: str, kind: str, values: Sequence[str]) -> int:
        with self.begin() as conn:
            res = conn.execute(t.profile_terms.delete().where(
                t.profile_terms.c.user == user, t.profile_terms.c.kind == kind,
                t.profile_terms.c.value.in_(list(values))))
            return int(res.rowcount or 0)

    def terms(self, user: str, kind: str) -> list[str]:
        q = (select(t.profile_terms.c.value).where(t.profile_terms.c.user == user,
                                                   t.profile_terms.c.kind == kind)
             .order_by(t.profile_terms.c.added_at, t.profile_terms.c.value))
        with self.begin() as conn:
            return list(conn.execute(q).scalars())

    # --- feedback ---------------------------------------------------------------------------

    def record_feedback(self, user: str, paper_id: str, action: str, via: str,
                        at: str | None = None) -> None:
        """Log the rating and relabel the paper in the library, in one transaction."""
        from papersift.store.db import utcnow

        with self.begin() as conn:
            conn.execute(t.feedback.insert().values(user=user, paper_id=paper_id,
                                                    action=action, via=via, at=at or utcnow()))
            self._rebuild_library(conn, user, [paper_id])

    def feedback(self, user: str) -> list[FeedbackRow]:
        q = (select(t.feedback).where(t.feedback.c.user == user)
             .order_by(t.feedback.c.at, t.feedback.c.id))
        with self.begin() as conn:
            return [FeedbackRow(r.paper_id, r.action, r.via, r.at) for r in conn.execute(q)]

    # --- users and lookups ------------------------------------------------------------------

    def users(self) -> set[str]:
        """Everyone with anything stored: a profile, a source, a library, a term or a rating."""
        with self.begin() as conn:
            return {u for tab in _USER_TABLES
                    for u in conn.execute(select(tab.c.user).distinct()).scalars()}

    def has_user(self, user: str) -> bool:
        """Whether `user` is among `users()`: one indexed lookup per table, where listing
        everyone scans every library (per user of a 1,000-user daily job, that was quadratic)."""
        with self.begin() as conn:
            return any(conn.execute(select(tab.c.user).where(tab.c.user == user).limit(1))
                       .first() for tab in _USER_TABLES)

    def ids_by_title(self, titles: Sequence[str]) -> dict[str, str]:
        """Stored paper ids for titles (matched ignoring case, spacing and punctuation);
        keys are the titles as given."""
        want: dict[str, list[str]] = {}
        for title in titles:
            if norm := norm_title(title):
                want.setdefault(norm, []).append(title)
        out: dict[str, str] = {}
        if not want:
            return out
        with self.begin() as conn:
            for pid, title in conn.execute(select(t.papers.c.id, t.papers.c.title)):
                for given in want.get(norm_title(title), ()):
                    out.setdefault(given, pid)
        return out

    def papers_by_author(self, needle: str) -> Iterator[tuple[str, list[str]]]:
        """(id, authors) of stored papers whose author list contains `needle` in any case,
        with or without accents ('scholkopf' finds 'Schölkopf')."""
        import json

        q = select(t.papers.c.id, t.papers.c.authors).where(
            folded(t.papers.c.authors).contains(fold(needle), autoescape=True))
        with self.begin() as conn:
            for pid, authors in conn.execute(q):
                yield pid, json.loads(authors)

    # --- the library view -------------------------------------------------------------------

    def _rebuild_library(self, conn: Connection, user: str, paper_ids: Sequence[str]) -> None:
        """Recompute the library rows of `paper_ids` from their sources and feedback.
        One rebuild per user at a time: two at once (two tabs rating the same paper) would
        both insert the row on PostgreSQL, or write the older rating last. SQLite already
        runs one writer at a time; PostgreSQL takes a lock for the user until the commit."""
        if conn.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha1(f"library:{user}".encode()).digest()[:8], "big",
                                 signed=True)
            conn.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        for chunk in _chunks(sorted(set(paper_ids))):
            held: dict[str, tuple[str, str]] = {}
            for pid, source, added in conn.execute(
                    select(t.library_items.c.paper_id, t.library_items.c.source,
                           t.library_items.c.added_at)
                    .where(t.library_items.c.user == user,
                           t.library_items.c.paper_id.in_(chunk))
                    .order_by(t.library_items.c.added_at, t.library_items.c.source)):
                held.setdefault(pid, (source, added))
            rated: dict[str, tuple[int, str]] = {}
            for pid, action, at in conn.execute(
                    select(t.feedback.c.paper_id, t.feedback.c.action, t.feedback.c.at)
                    .where(t.feedback.c.user == user, t.feedback.c.paper_id.in_(chunk),
                           t.feedback.c.action.in_(list(LABELS)))
                    .order_by(t.feedback.c.at, t.feedback.c.id)):
                rated[pid] = (LABELS[action], at)  # the latest rating wins
            current = {r.paper_id: r for r in conn.execute(select(t.library).where(
                t.library.c.user == user, t.library.c.paper_id.in_(chunk)))}
            for pid in chunk:
                if pid in rated:
                    want = (FEEDBACK_SOURCE, *rated[pid])
                elif pid in held:
                    want = (held[pid][0], 1, held[pid][1])
                else:
                    want = None
                have = current.get(pid)
                if want is None:
                    if have is not None:
                        conn.execute(t.library.delete().where(t.library.c.user == user,
                                                              t.library.c.paper_id == pid))
                elif have is None:
                    conn.execute(t.library.insert().values(
                        user=user, paper_id=pid, source=want[0], label=want[1],
                        added_at=want[2]))
                elif (have.source, have.label, have.added_at) != want:
                    conn.execute(update(t.library).where(
                        t.library.c.user == user, t.library.c.paper_id == pid)
                        .values(source=want[0], label=want[1], added_at=want[2]))


def _chunks(xs: Sequence[str], n: int = 500) -> Iterator[list[str]]:
    xs = list(xs)
    for i in range(0, len(xs), n):
        yield xs[i:i + n]

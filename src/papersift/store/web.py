"""Store methods of the web app (a mixin of `Store`): accounts, sessions, search, and the
per-user views its pages show. Every per-user query takes the user explicitly; the web app
passes only the signed-in user, which is what keeps users apart."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
)

from papersift.names import fold
from papersift.records import Paper
from papersift.store import schema as t
from papersift.store.fold import folded

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

_WORD = re.compile(r"\w+", re.UNICODE)

# The two queries of every page view, built once: building a select costs SQLAlchemy
# several times what SQLite takes to answer it (benchmarks/web.py, the digest page).
_SESSION = (select(t.web_sessions.c.user, t.web_sessions.c.csrf, t.web_users.c.lang)
            .outerjoin(t.web_users, t.web_users.c.user == t.web_sessions.c.user)
            .where(t.web_sessions.c.token_hash == bindparam("token_hash"),
                   t.web_sessions.c.expires_at > bindparam("now")))
_RATINGS = (select(t.feedback.c.paper_id, t.feedback.c.action)
            .where(t.feedback.c.user == bindparam("user"),
                   t.feedback.c.paper_id.in_(bindparam("ids", expanding=True)))
            .order_by(t.feedback.c.at, t.feedback.c.id))


@dataclass
class WebUser:
    user: str
    password: str | None  # argon2 hash; None: no login (single-user mode)
    lang: str | None


@dataclass
class Filters:
    """Search filters: a category (cs.CL), an announcement-date range, an author name."""
    category: str = ""
    since: str = ""
    until: str = ""
    author: str = ""


@dataclass
class Pick:
    """Where a paper appeared in the user's digests, and why."""
    day: str
    rank: int
    score: float
    reason: str


def fts_query(raw: str) -> str:
    """User text as an FTS5 query: every word must occur (the last as a prefix). Quoting
    each word means no input can be FTS5 syntax (AND, NEAR, column filters, quotes)."""
    words = _WORD.findall(raw)
    if not words:
        return ""
    return " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'


class WebMixin:
    engine: Engine
    _insert: Any

    if TYPE_CHECKING:  # Store provides them
        def begin(self) -> AbstractContextManager[Connection]: ...
        def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]: ...

    # --- accounts and sessions --------------------------------------------------------------

    def web_user(self, user: str) -> WebUser | None:
        with self.begin() as conn:
            r = conn.execute(select(t.web_users).where(t.web_users.c.user == user)).first()
        return WebUser(r.user, r.password, r.lang) if r else None

    def web_accounts(self) -> list[str]:
        """Users who can sign in (have a password)."""
        q = (select(t.web_users.c.user).where(t.web_users.c.password.is_not(None))
             .order_by(t.web_users.c.user))
        with self.begin() as conn:
            return list(conn.execute(q).scalars())

    def save_web_user(self, user: str, **values: str | None) -> None:
        """Create the account row or update `password` / `lang` (the keys given)."""
        from papersift.store.db import utcnow

        with self.begin() as conn:
            ins = self._insert(t.web_users).values(user=user, created_at=utcnow(), **values)
            conn.execute(ins.on_conflict_do_update(index_elements=["user"], set_=values)
                         if values else ins.on_conflict_do_nothing())

    def add_session(self, token_hash: str, user: str, csrf: str, expires_at: str) -> None:
        from papersift.store.db import utcnow

        with self.begin() as conn:
            conn.execute(t.web_sessions.insert().values(
                token_hash=token_hash, user=user, csrf=csrf, created_at=utcnow(),
                expires_at=expires_at))

    def session(self, token_hash: str, now: str) -> tuple[str, str, str | None] | None:
        """(user, csrf token, UI language) of a live session: one query per request."""
        with self.begin() as conn:
            row = conn.execute(_SESSION, {"token_hash": token_hash, "now": now}).first()
        return (row.user, row.csrf, row.lang) if row else None

    def end_sessions(self, *, token_hash: str | None = None, user: str | None = None,
                     expired_before: str | None = None) -> int:
        """Log out one session, every session of a user (password change), or the expired."""
        cond: list[ColumnElement[bool]] = []
        if token_hash is not None:
            cond.append(t.web_sessions.c.token_hash == token_hash)
        if user is not None:
            cond.append(t.web_sessions.c.user == user)
        if expired_before is not None:
            cond.append(t.web_sessions.c.expires_at <= expired_before)
        if not cond:
            raise ValueError("end_sessions needs a condition")
        with self.begin() as conn:
            return int(conn.execute(delete(t.web_sessions).where(and_(*cond))).rowcount or 0)

    # --- search -----------------------------------------------------------------------------

    def search_text(self, query: str, filters: Filters | None = None,
                    limit: int = 50) -> list[Paper]:
        """Papers matching every word of `query` in title, abstract or authors, best first
        (SQLite FTS5 with BM25; PostgreSQL full-text search with ts_rank)."""
        from papersift.store.db import _row_paper

        filters = filters or Filters()
        p = t.papers
        cond = filter_conditions(filters)
        if self.engine.dialect.name == "sqlite":
            match = fts_query(query)
            if not match:
                return []
            # Without filters the top `limit` are picked inside FTS5, before any paper row
            # is read; with filters every match is joined to its row and filtered first.
            top = "" if cond else " ORDER BY rank LIMIT :n"
            fts = text("SELECT rowid AS rid, bm25(papers_fts, 4.0, 1.0, 2.0) AS rank "
                       f"FROM papers_fts WHERE papers_fts MATCH :q{top}") \
                .bindparams(q=match, **({} if cond else {"n": limit})) \
                .columns(rid=p.c.version.type, rank=p.c.version.type).subquery("fts")
            q = (select(p).join(fts, fts.c.rid == text("papers.rowid"))
                 .where(*cond).order_by(fts.c.rank).limit(limit))
        else:
            doc = literal_column(t.PG_SEARCH_DOCUMENT)  # the GIN index's expression, verbatim
            tsq = func.plainto_tsquery("english", query)
            q = (select(p).where(doc.bool_op("@@")(tsq), *cond)
                 .order_by(func.ts_rank(doc, tsq).desc()).limit(limit))
        with self.begin() as conn:
            return [_row_paper(r) for r in conn.execute(q)]

    def filter_ids(self, ids: Sequence[str], filters: Filters) -> set[str]:
        """Which of `ids` pass the filters."""
        cond = filter_conditions(filters)
        out: set[str] = set()
        with self.begin() as conn:
            for i in range(0, len(ids), 500):
                out |= set(conn.execute(select(t.papers.c.id).where(
                    t.papers.c.id.in_(list(ids[i:i + 500])), *cond)).scalars())
        return out

    def matching_ids(self, filters: Filters) -> set[str]:
        """Every paper that passes the filters: semantic search filters first, so that a
        rare filter (one author) finds its papers however far down they rank."""
        with self.begin() as conn:
            return set(conn.execute(select(t.papers.c.id).where(
                *filter_conditions(filters))).scalars())

    def embedding_matrix(self, model: str) -> tuple[list[str], np.ndarray]:
        """Every cached vector of `model` (semantic search is a brute-force dot product)."""
        q = select(t.embeddings.c.paper_id, t.embeddings.c.vector).where(
            t.embeddings.c.model == model).order_by(t.embeddings.c.paper_id)
        ids: list[str] = []
        blobs: list[bytes] = []
        with self.begin() as conn:
            for pid, blob in conn.execute(q):
                ids.append(pid)
                blobs.append(blob)
        if not blobs:
            return [], np.zeros((0, 0), dtype=np.float32)
        dim = len(blobs[0]) // 4
        return ids, np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, dim)

    def count_embeddings(self, model: str) -> int:
        with self.begin() as conn:
            return conn.execute(select(func.count()).select_from(t.embeddings).where(
                t.embeddings.c.model == model)).scalar_one()

    # --- per-user views ---------------------------------------------------------------------

    def digest_days(self, user: str) -> list[str]:
        """Days the user has a stored digest for, newest first."""
        q = (select(t.digests.c.day).where(t.digests.c.user == user)
             .order_by(t.digests.c.day.desc()))
        with self.begin() as conn:
            return list(conn.execute(q).scalars())

    def newest_digest_day(self) -> str | None:
        """The newest day any user has a stored digest for."""
        with self.begin() as conn:
            return conn.execute(select(func.max(t.digests.c.day))).scalar_one()

    def latest_ratings(self, user: str, ids: Sequence[str]) -> dict[str, str]:
        """The user's latest rating (up/down/save/dismiss) of each of `ids` they rated."""
        out: dict[str, str] = {}
        with self.begin() as conn:
            for i in range(0, len(ids), 500):
                out.update(conn.execute(_RATINGS, {"user": user,
                                                   "ids": list(ids[i:i + 500])}).all())
        return out

    def listing_count(self, day: str, categories: Sequence[str]) -> int:
        """Papers listed (new or cross) on `day` in any of `categories` (all if empty)."""
        q = (select(func.count()).select_from(t.listings)
             .join(t.papers, t.papers.c.id == t.listings.c.paper_id)
             .where(t.listings.c.day == day, t.listings.c.kind.in_(("new", "cross")),
                    *_category_any(categories)))
        with self.begin() as conn:
            return conn.execute(q).scalar_one()

    def picks(self, user: str, paper_id: str) -> list[Pick]:
        q = (select(t.digests.c.day, t.digest_entries.c.rank, t.digest_entries.c.score,
                    t.digest_entries.c.reason)
             .join(t.digests, t.digests.c.id == t.digest_entries.c.digest_id)
             .where(t.digest_entries.c.user == user, t.digest_entries.c.paper_id == paper_id))
        with self.begin() as conn:
            return [Pick(*r) for r in conn.execute(q)]

    def recent_picks(self, user: str, since: str) -> list[str]:
        """Ids of the papers in the user's digests from `since` on."""
        q = (select(t.digest_entries.c.paper_id)
             .join(t.digests, t.digests.c.id == t.digest_entries.c.digest_id)
             .where(t.digests.c.user == user, t.digests.c.day >= since)
             .order_by(t.digests.c.day, t.digest_entries.c.rank))
        with self.begin() as conn:
            return list(conn.execute(q).scalars())

    def digest_scores(self, user: str, since: str) -> list[tuple[str, str, float]]:
        """(day, paper id, score) of every paper in the user's digests from `since` on."""
        e = t.digest_entries
        q = (select(t.digests.c.day, e.c.paper_id, e.c.score)
             .join(t.digests, t.digests.c.id == e.c.digest_id)
             .where(t.digests.c.user == user, t.digests.c.day >= since)
             .order_by(t.digests.c.day, e.c.rank))
        with self.begin() as conn:
            return [(d, pid, float(s)) for d, pid, s in conn.execute(q)]

    def listed_vectors(self, model: str, since: str, until: str, categories: Sequence[str]
                       ) -> tuple[list[str], np.ndarray]:
        """The listing day and cached vector of each paper listed (new or cross) in
        `categories` on the days in [since, until]: one query, no paper text read."""
        e, li = t.embeddings, t.listings
        q = (select(li.c.day, e.c.vector)
             .join(t.papers, t.papers.c.id == li.c.paper_id)
             .join(e, and_(e.c.paper_id == li.c.paper_id, e.c.model == model,
                           e.c.text_hash == t.papers.c.text_hash))
             .where(li.c.day >= since, li.c.day <= until, li.c.kind.in_(("new", "cross")),
                    *_category_any(categories)))
        days: list[str] = []
        blobs: list[bytes] = []
        with self.begin() as conn:
            for day, blob in conn.execute(q):
                days.append(day)
                blobs.append(blob)
        if not blobs:
            return [], np.zeros((0, 0), dtype=np.float32)
        return days, np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)


def _category_any(categories: Sequence[str]) -> list[ColumnElement[bool]]:
    if not categories:
        return []
    padded = " " + t.papers.c.categories + " "
    return [or_(*(padded.like(f"% {c} %") for c in categories))]


def filter_conditions(f: Filters) -> list[ColumnElement[bool]]:
    cond = _category_any([f.category]) if f.category else []
    if f.since:
        cond.append(t.papers.c.announced >= f.since)
    if f.until:
        cond.append(t.papers.c.announced <= f.until)
    if f.author.strip():  # a blank field is no filter
        # authors is a JSON list: match the name as written inside it, in any case, with or
        # without accents; % and _ in a name are letters, not wildcards. A name that folds
        # to nothing (a lone accent) names no one: it would otherwise match every paper.
        needle = json.dumps(fold(f.author.strip()), ensure_ascii=False)[1:-1]
        cond.append(folded(t.papers.c.authors).contains(needle, autoescape=True) if needle
                    else false())
    return cond

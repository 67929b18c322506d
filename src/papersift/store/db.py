"""Store: open/migrate the database and every query the other stages need."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    case,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

from papersift.errors import StoreError
from papersift.records import Paper
from papersift.store import fold
from papersift.store import schema as t
from papersift.store.deliveries import DeliveriesMixin
from papersift.store.llm import LLMMixin
from papersift.store.profiles import ProfilesMixin
from papersift.store.quality import QualityQueries
from papersift.store.vectors import VectorIndexMixin
from papersift.store.web import WebMixin

_HERE = Path(__file__).parent
_PG_SCHEME = re.compile(r"^postgres(ql)?://")
_PASSWORD = re.compile(r"(://[^/:@]*:)[^/@]*@")  # scheme://user:PASSWORD@host


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def redacted(url: str) -> str:
    """`url` fit for messages and logs: a password in it shows as ***."""
    return _PASSWORD.sub(r"\1***@", url)


def _friendly(url: str, e: Exception) -> StoreError:
    msg = str(getattr(e, "orig", e) or e)
    first = msg.splitlines()[0] if msg else type(e).__name__
    if any(s in msg for s in ("Connection refused", "could not translate host name",
                              "timeout expired", "No route to host", "Network is unreachable")):
        return StoreError(f"cannot reach the database server of store {url} ({first}): start "
                          "it, or fix the host and port in store.url (PAPERSIFT_STORE_URL)")
    if "password authentication failed" in msg or "no password supplied" in msg or \
            re.search(r'role "[^"]*" does not exist', msg):
        return StoreError(f"the database server refused to log in to store {url} ({first}): "
                          "fix the user or password in store.url (PAPERSIFT_STORE_URL)")
    if re.search(r'database "[^"]*" does not exist', msg):
        return StoreError(f"store {url}: {first}: create it (createdb NAME) or fix store.url "
                          "(PAPERSIFT_STORE_URL)")
    if "readonly" in msg or "read-only" in msg or ("unable to open" in msg and _read_only(url)):
        return StoreError(f"store {url} is read-only: fix its permissions (or its disk's "
                          "mount) or point store.url (PAPERSIFT_STORE_URL) at a writable file")
    if any(s in msg for s in ("disk is full", "disk I/O error", "No space left on device")):
        return _write_refused(url, first, "disk I/O error" not in msg)
    if "not a database" in msg or "malformed" in msg or "file is encrypted" in msg:
        return StoreError(f"store {url} is not a valid SQLite database (corrupted?): move it "
                          "aside or point store.url at another file")
    if "unable to open" in msg:
        return StoreError(f"cannot open store {url}: check that its folder exists and is "
                          "writable, or set store.url")
    return StoreError(f"store {url} failed: {first}")


FULL_BELOW = 1 << 20  # free bytes under which a refused write means a full disk


def _write_refused(url: str, first: str, full: bool) -> StoreError:
    """SQLITE_FULL (PostgreSQL's "No space left") is a full disk; SQLite's plain I/O error
    is one too when the folder has almost no room left: with WAL, growing the -wal or
    creating the 32 KiB -shm (needed even to read) failed. Otherwise the write was refused
    with room to spare: a failing disk, or a quota or file-size limit (EFBIG)."""
    path = Path(url.removeprefix("sqlite:///")).expanduser()
    free = shutil.disk_usage(path.parent).free if url.startswith("sqlite:///") and \
        path.parent.is_dir() else None
    redo = "and rerun: the step that failed stored nothing"
    if full or (free is not None and free < FULL_BELOW):
        room = f" ({free // 1024} KiB free)" if free is not None else ""
        return StoreError(f"store {url} could not write ({first}): its disk is full{room}; "
                          "free space on it, or move the store to a disk with room and point "
                          f"store.url (PAPERSIFT_STORE_URL) at it, {redo}")
    spare = f" though its disk has {free // 2**20} MiB free" if free is not None else ""
    return StoreError(f"store {url} could not write ({first}){spare}: the disk is failing, "
                      "or a quota or file-size limit (ulimit -f) refused the write; check the "
                      f"system log, or point store.url (PAPERSIFT_STORE_URL) at another disk, "
                      f"{redo}")


def _read_only(url: str) -> bool:
    """An existing SQLite file we may not write (or whose folder, which holds its WAL)."""
    path = Path(url.removeprefix("sqlite:///")).expanduser()
    return url.startswith("sqlite:///") and path.exists() and not (
        os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


@dataclass
class LibraryEntry:
    paper_id: str
    source: str
    label: int
    added_at: str


@dataclass
class StoredProfile:
    user: str
    description: str
    keywords: list[str]
    authors: list[str]
    version: int


@dataclass
class DigestEntry:
    rank: int
    paper_id: str
    score: float
    reason: str


class Store(QualityQueries, DeliveriesMixin, ProfilesMixin, LLMMixin, WebMixin,
            VectorIndexMixin):
    def __init__(self, url: str) -> None:
        self.url = redacted(url)  # for messages: the password stays out of errors and logs
        target = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///") and not target.startswith(("file:", ":memory:")):
            path = Path(target).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder of store {url}: {e.strerror}; "
                                 "point store.url (PAPERSIFT_STORE_URL) elsewhere") from None
            url = f"sqlite:///{path}"
        # plain postgresql:// would pick psycopg2; psycopg (v3) is the driver we install
        url = _PG_SCHEME.sub("postgresql+psycopg://", url)
        # PostgreSQL: one connection per web worker thread (40) without queueing for one;
        # SQLite opens connections per thread on demand.
        opts = {"pool_size": 10, "max_overflow": 40} if url.startswith("postgresql") else {}
        try:
            self.engine: Engine = create_engine(url, **opts)
        except (ArgumentError, NoSuchModuleError):
            raise StoreError(f"store {self.url!r} is not a database URL papersift can open: use "
                             "sqlite:///PATH or postgresql://USER@HOST/DB (store.url, "
                             "PAPERSIFT_STORE_URL)") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._insert = sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert
        try:
            self.migrate()
        except (OperationalError, DatabaseError) as e:
            raise _friendly(self.url, e) from None

    def migrate(self) -> None:
        cfg = Config(str(_HERE / "alembic.ini"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except (OperationalError, DatabaseError) as e:
            raise _friendly(self.url, e) from None

    def close(self) -> None:
        self.engine.dispose()

    # --- papers -------------------------------------------------------------------------

    def upsert_papers(self, conn: Connection, papers: Sequence[Paper]) -> None:
        """Insert papers or update them to a newer version; never duplicates a row."""
        if not papers:
            return
        rows = [_paper_row(p) for p in papers]
        ins = self._insert(t.papers)
        ex = ins.excluded
        newer = ex.version >= t.papers.c.version
        fields = ("title", "abstract", "authors", "categories", "comments", "journal_ref",
                  "doi", "license", "updated", "version", "text_hash")
        sets = {f: case((newer, getattr(ex, f)), else_=getattr(t.papers.c, f)) for f in fields}
        sets["created"] = func.coalesce(t.papers.c.created, ex.created)
        sets["announced"] = case(
            (t.papers.c.announced.is_(None), ex.announced),
            (ex.announced.is_(None), t.papers.c.announced),
            (ex.announced < t.papers.c.announced, ex.announced),
            else_=t.papers.c.announced,
        )
        self.keep_first_comments(conn, papers)
        conn.execute(ins.on_conflict_do_update(index_elements=["id"], set_=sets), rows)
        vrows = [{"paper_id": p.id, "version": n, "created": c} for p in papers
                 for n, c in p.versions]
        if vrows:
            conn.execute(self._insert(t.versions).on_conflict_do_nothing(), vrows)

    def add_listings(self, conn: Connection, day: str, entries: Iterable[tuple[str, str]]) -> None:
        rows = [{"day": day, "paper_id": pid, "kind": kind} for pid, kind in entries]
        if rows:
            conn.execute(self._insert(t.listings).on_conflict_do_nothing(), rows)

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        out: dict[str, Paper] = {}
        with self.begin() as conn:
            for chunk in _chunks(list(ids), 500):
                for row in conn.execute(select(t.papers).where(t.papers.c.id.in_(chunk))):
                    out[row.id] = _row_paper(row)
        return out

    def count_papers(self) -> int:
        with self.begin() as conn:
            return conn.execute(select(func.count()).select_from(t.papers)).scalar_one()

    def listing(self, day: str, kinds: Sequence[str] = ("new", "cross")) -> list[Paper]:
        """The papers announced on `day` with one of `kinds`, in id order."""
        q = (select(t.papers).join(t.listings, t.listings.c.paper_id == t.papers.c.id)
             .where(t.listings.c.day == day, t.listings.c.kind.in_(kinds))
             .order_by(t.papers.c.id))
        with self.begin() as conn:
            return [_row_paper(r) for r in conn.execute(q)]

    def listing_days(self) -> list[str]:
        with self.begin() as conn:
            return list(conn.execute(select(t.listings.c.day).distinct()
                                     .order_by(t.listings.c.day)).scalars())

    def papers_announced_between(self, start: str, end: str) -> list[str]:
        """Ids announced in [start, end), e.g. background papers for training."""
        q = select(t.papers.c.id).where(t.papers.c.announced >= start,
                                        t.papers.c.announced < end).order_by(t.papers.c.id)
        with self.begin() as conn:
            return list(conn.execute(q).scalars())

    # --- embeddings ---------------------------------------------------------------------

    def get_embeddings(self, papers: Sequence[Paper], model: str) -> dict[str, np.ndarray]:
        """Cached vectors of `papers` whose text has not changed since they were computed."""
        want = {p.id: p.text_hash for p in papers}
        out: dict[str, np.ndarray] = {}
        q = select(t.embeddings.c.paper_id, t.embeddings.c.text_hash, t.embeddings.c.vector)
        with self.begin() as conn:
            for chunk in _chunks(list(want), 500):
                rows = conn.execute(q.where(t.embeddings.c.model == model,
                                            t.embeddings.c.paper_id.in_(chunk)))
                for pid, h, blob in rows:
                    if want[pid] == h:
                        out[pid] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_embeddings(self, model: str, items: Sequence[tuple[Paper, np.ndarray]]) -> None:
        self.put_vectors(model, [(p.id, p.text_hash, v) for p, v in items])

    def put_vectors(self, model: str, items: Sequence[tuple[str, str, np.ndarray]]) -> None:
        """Store (paper id, text hash it was computed from, vector) rows in one transaction."""
        rows = [{"paper_id": pid, "model": model, "text_hash": h,
                 "vector": np.asarray(v, dtype=np.float32).tobytes()} for pid, h, v in items]
        if not rows:
            return
        ins = self._insert(t.embeddings)
        stmt = ins.on_conflict_do_update(
            index_elements=["paper_id", "model"],
            set_={"text_hash": ins.excluded.text_hash, "vector": ins.excluded.vector})
        with self.begin() as conn:
            conn.execute(stmt, rows)
            self.fill_vec(conn, model, [(pid, v) for pid, _, v in items])

    def missing_embeddings(self, model: str, *, after: str = "", limit: int = 1000,
                           since: str | None = None, until: str | None = None) -> list[Paper]:
        """Papers (by id, after `after`) with no vector of `model` for their current text;
        `since`/`until` bound the announcement day ([since, until))."""
        q = (_missing(select(t.papers), model, since, until).where(t.papers.c.id > after)
             .order_by(t.papers.c.id).limit(limit))
        with self.begin() as conn:
            return [_row_paper(r) for r in conn.execute(q)]

    def count_missing_embeddings(self, model: str, since: str | None = None,
                                 until: str | None = None) -> int:
        q = _missing(select(func.count()), model, since, until)
        with self.begin() as conn:
            return conn.execute(q).scalar_one()

    # --- profiles and library -----------------------------------------------------------

    def save_profile(self, user: str, description: str, keywords: list[str],
                     authors: list[str]) -> StoredProfile:
        """Store the profile; its version goes up only when something changed."""
        with self.begin() as conn:
            row = conn.execute(select(t.profiles).where(t.profiles.c.user == user)).first()
            values = {"description": description, "keywords": json.dumps(keywords),
                      "authors": json.dumps(authors)}
            if row is None:
                conn.execute(t.profiles.insert().values(user=user, version=1,
                                                        updated_at=utcnow(), **values))
                version = 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                version = row.version + 1
                conn.execute(update(t.profiles).where(t.profiles.c.user == user)
                             .values(version=version, updated_at=utcnow(), **values))
            else:
                version = row.version
        return StoredProfile(user, description, keywords, authors, version)

    def sync_library(self, user: str, source: str, paper_ids: Sequence[str]) -> None:
        """Make the `source` part of the user's library exactly `paper_ids` (re-sync safe)."""
        self.sync_source(user, source, source[:16], source, paper_ids)

    def library(self, user: str) -> list[LibraryEntry]:
        q = select(t.library).where(t.library.c.user == user).order_by(t.library.c.added_at,
                                                                       t.library.c.paper_id)
        with self.begin() as conn:
            return [LibraryEntry(r.paper_id, r.source, r.label, r.added_at)
                    for r in conn.execute(q)]

    # --- digests ------------------------------------------------------------------------

    def digest(self, user: str, day: str) -> list[DigestEntry] | None:
        with self.begin() as conn:
            did = conn.execute(select(t.digests.c.id).where(
                t.digests.c.user == user, t.digests.c.day == day)).scalar()
            if did is None:
                return None
            q = (select(t.digest_entries).where(t.digest_entries.c.digest_id == did)
                 .order_by(t.digest_entries.c.rank))
            return [DigestEntry(r.rank, r.paper_id, r.score, r.reason) for r in conn.execute(q)]

    def shown_papers(self, user: str, ids: Sequence[str]) -> set[str]:
        """Which of `ids` already appeared in one of the user's digests."""
        out: set[str] = set()
        with self.begin() as conn:
            for chunk in _chunks(list(ids), 500):
                out |= set(conn.execute(select(t.digest_entries.c.paper_id).where(
                    t.digest_entries.c.user == user,
                    t.digest_entries.c.paper_id.in_(chunk))).scalars())
        return out

    def save_digest(self, user: str, day: str, ranker: str,
                    entries: Sequence[DigestEntry]) -> list[DigestEntry]:
        """Record the digest once; a second call for the same (user, day) returns the first."""
        with self.begin() as conn:
            ins = self._insert(t.digests).values(user=user, day=day, ranker=ranker,
                                                 created_at=utcnow())
            conn.execute(ins.on_conflict_do_nothing())
            did = conn.execute(select(t.digests.c.id).where(
                t.digests.c.user == user, t.digests.c.day == day)).scalar_one()
            exists = conn.execute(select(func.count()).select_from(t.digest_entries).where(
                t.digest_entries.c.digest_id == did)).scalar_one()
            if not exists and entries:
                conn.execute(t.digest_entries.insert(), [
                    {"digest_id": did, "rank": e.rank, "user": user, "paper_id": e.paper_id,
                     "score": e.score, "reason": e.reason} for e in entries])
        stored = self.digest(user, day)
        assert stored is not None
        return stored

    # --- runs and harvests --------------------------------------------------------------

    def start_run(self, job: str, user: str | None, day: str | None) -> int:
        with self.begin() as conn:
            res = conn.execute(t.runs.insert().values(
                job=job, user=user, day=day, started_at=utcnow(), status="running",
                stage="start"))
            return int(res.inserted_primary_key[0])

    def update_run(self, run_id: int, *, stage: str | None = None, status: str | None = None,
                   detail: str | None = None) -> None:
        values: dict[str, str] = {}
        if stage:
            values["stage"] = stage
        if detail is not None:
            values["detail"] = detail
        if status:
            values["status"] = status
            if status != "running":
                values["finished_at"] = utcnow()
        with self.begin() as conn:
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))

    def runs(self, limit: int = 20) -> list[dict]:
        with self.begin() as conn:
            q = select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)
            return [dict(r._mapping) for r in conn.execute(q)]

    def harvest_state(self, key: str) -> dict | None:
        with self.begin() as conn:
            row = conn.execute(select(t.harvests).where(t.harvests.c.key == key)).first()
        if row is None:
            return None
        return {"token": row.token, "params": json.loads(row.params), "records": row.records}

    def save_harvest_state(self, conn: Connection, key: str, token: str | None,
                           params: dict, records: int) -> None:
        """Saved in the same transaction as the page's papers, so a kill loses neither."""
        ins = self._insert(t.harvests).values(key=key, token=token, params=json.dumps(params),
                                              records=records, updated_at=utcnow())
        conn.execute(ins.on_conflict_do_update(index_elements=["key"], set_={
            "token": ins.excluded.token, "records": ins.excluded.records,
            "params": ins.excluded.params, "updated_at": ins.excluded.updated_at}))


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
    fold.register(dbapi_conn)


def _missing(q: Select, model: str, since: str | None, until: str | None) -> Select:
    """`q` over the papers lacking a current vector of `model`, announced in [since, until)."""
    e, p = t.embeddings, t.papers
    q = (q.select_from(p.outerjoin(e, (e.c.paper_id == p.c.id) & (e.c.model == model)))
         .where(e.c.paper_id.is_(None) | (e.c.text_hash != p.c.text_hash)))
    if since:
        q = q.where(p.c.announced >= since)
    if until:
        q = q.where(p.c.announced < until)
    return q


def _chunks(xs: list, n: int) -> Iterator[list]:
    for i in range(0, len(xs), n):
        yield xs[i:i + n]


def _paper_row(p: Paper) -> dict:
    return {"id": p.id, "title": p.title, "abstract": p.abstract,
            "authors": json.dumps(p.authors, ensure_ascii=False),
            "categories": " ".join(p.categories), "comments": p.comments,
            "journal_ref": p.journal_ref, "doi": p.doi, "license": p.license,
            "created": p.created, "updated": p.updated, "announced": p.announced,
            "version": p.version, "text_hash": p.text_hash}


def _row_paper(r) -> Paper:  # type: ignore[no-untyped-def]
    return Paper(id=r.id, title=r.title, abstract=r.abstract, authors=json.loads(r.authors),
                 categories=r.categories.split(), comments=r.comments,
                 journal_ref=r.journal_ref, doi=r.doi, license=r.license, created=r.created,
                 updated=r.updated, announced=r.announced, version=r.version)

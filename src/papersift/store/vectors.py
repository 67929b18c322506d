"""pgvector: semantic search inside PostgreSQL instead of in every process.

Optional. `papersift embed --index` turns it on where the server has the extension: a `vec`
column beside each cached vector and one HNSW index per embedding model (a partial index:
models differ in width). From then on `put_vectors` fills the column and `nearest` answers
from the index. Without it (SQLite, or a server without pgvector) `nearest` returns None
and the caller searches the vectors in numpy, which needs them all in its memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, cast, literal_column, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import UserDefinedType

from papersift.errors import StoreError
from papersift.store import schema as t
from papersift.store.web import Filters, filter_conditions

MIN_VERSION = (0, 5)  # HNSW indexes came with pgvector 0.5
ITERATIVE_SCANS = (0, 8)  # … and index scans that go on until enough rows pass a filter
SEARCH_MAX = 1000  # hnsw.ef_search's ceiling: an index scan returns at most this many rows
# hnsw.ef_search, the breadth of the graph search: max(EF_MIN, 2k). Measured on 90k real
# vectors (benchmarks/vector_search.py): pgvector's default 40 finds 97 % of the exact top 9,
# 100 finds 99.4 % in 11 ms; for the top 50, ef 50 finds 94 %, 100 finds 98 %.
EF_MIN = 100


def vector_literal(v: np.ndarray) -> str:
    """pgvector's text form; float32 → Python float → text → float32 is exact."""
    return str(np.asarray(v, dtype=np.float32).tolist())


def version_of(version: object) -> tuple[int, ...]:
    """(major, minor) of a pgvector version string such as "0.8.6"."""
    return tuple(int(x) for x in str(version).split(".")[:2])


def index_name(model: str) -> str:
    return "ix_embeddings_vec_" + hashlib.sha1(model.encode()).hexdigest()[:12]


def _quoted(model: str) -> str:
    # The model is spelt as a literal, not a parameter: only then can the planner match a
    # query to the model's partial index.
    return "'" + model.replace("'", "''") + "'"


class VectorIndexMixin:
    engine: Engine
    url: str
    _vec_column = False

    if TYPE_CHECKING:  # Store provides it
        def begin(self) -> AbstractContextManager[Connection]: ...

    def has_vec_column(self) -> bool:
        """Whether `papersift embed --index` has run on this store. Only a yes is kept: a
        long-running server sees an index built after it started."""
        if not self._vec_column and self.engine.dialect.name == "postgresql":
            self._vec_column = bool(self._scalar(
                "SELECT 1 FROM information_schema.columns WHERE table_name = 'embeddings' "
                "AND column_name = 'vec' AND table_schema = current_schema()"))
        return bool(self._vec_column)

    def _scalar(self, sql: str, **params: object) -> object:
        with self.begin() as conn:
            return conn.execute(text(sql), params).scalar()

    def fill_vec(self, conn: Connection, model: str,
                 items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Keep the indexed column in step with the stored vectors (same transaction)."""
        if items and self.has_vec_column():
            conn.execute(text("UPDATE embeddings SET vec = CAST(:v AS vector) "
                              "WHERE paper_id = :p AND model = :m"),
                         [{"v": vector_literal(v), "p": pid, "m": model} for pid, v in items])

    def enable_vector_index(self, model: str, batch: int = 2000,
                            progress: Callable[[int, int], None] | None = None) -> int:
        """Turn pgvector on for `model`: the extension, the column, every stored vector copied
        into it (`batch` rows per commit; resumable: only rows still lacking it) and the HNSW
        index. Returns the number of indexed vectors. Safe to run again: it fills what was
        stored without it."""
        if self.engine.dialect.name != "postgresql":
            raise StoreError("embed --index needs a PostgreSQL store with pgvector; on SQLite "
                             "semantic search runs in numpy and needs no index")
        self._enable_extension()
        with self.begin() as conn:
            conn.execute(text("ALTER TABLE embeddings ADD COLUMN IF NOT EXISTS vec vector"))
        self._vec_column = True
        total = int(self._scalar("SELECT count(*) FROM embeddings WHERE model = :m AND vec IS "
                                 "NULL", m=model) or 0)
        done, after = 0, ""
        while True:
            with self.begin() as conn:
                rows = conn.execute(text(
                    "SELECT paper_id, vector FROM embeddings WHERE model = :m AND vec IS NULL "
                    "AND paper_id > :a ORDER BY paper_id LIMIT :n"),
                    {"m": model, "a": after, "n": batch}).all()
                if not rows:
                    break
                self.fill_vec(conn, model, [(pid, np.frombuffer(blob, dtype=np.float32))
                                            for pid, blob in rows])
            done, after = done + len(rows), rows[-1][0]
            if progress:
                progress(done, total)
        dim = self._width(model)
        if dim:
            with self.begin() as conn:
                # building the graph in memory is several times faster than spilling it
                conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
                conn.execute(text(
                    f"CREATE INDEX IF NOT EXISTS {index_name(model)} ON embeddings USING hnsw "
                    f"((vec::vector({dim})) vector_ip_ops) WHERE model = {_quoted(model)}"))
        return int(self._scalar("SELECT count(vec) FROM embeddings WHERE model = :m",
                                m=model) or 0)

    def _enable_extension(self) -> None:
        version = self._scalar("SELECT default_version FROM pg_available_extensions "
                               "WHERE name = 'vector'")
        if version is None:
            raise StoreError(f"pgvector is not installed in the PostgreSQL server of "
                             f"{self.url}: install it (e.g. apt install postgresql-"
                             "NN-pgvector) and run papersift embed --index again; until then "
                             "semantic search runs in numpy")
        if version_of(version) < MIN_VERSION:
            raise StoreError(f"pgvector {version} has no HNSW index (0.5 or later needed): "
                             "upgrade the extension and run papersift embed --index again")
        try:  # not self.begin(): its generic message would hide what to do
            with self.engine.begin() as conn:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except DBAPIError as e:
            raise StoreError(f"cannot enable pgvector in {self.url} "
                             f"({str(e.orig).splitlines()[0]}): ask the database owner to run "
                             "CREATE EXTENSION vector, then papersift embed --index") from None

    def _width(self, model: str) -> int:
        return int(self._scalar("SELECT octet_length(vector) / 4 FROM embeddings "
                                "WHERE model = :m LIMIT 1", m=model) or 0)

    def nearest(self, model: str, vec: np.ndarray, k: int,
                filters: Filters | None = None) -> list[tuple[str, float]] | None:
        """The `k` (≤ SEARCH_MAX) papers passing `filters` whose `model` vectors are closest
        to `vec`, by inner product (the vectors are normalised), from the HNSW index; None
        when there is no index for `model` (or, with filters, a pgvector without iterative
        scans): then search in numpy."""
        if not self.has_vec_column():
            return None
        cond = filter_conditions(filters) if filters else []
        dim, k = len(vec), min(k, SEARCH_MAX)
        width = _Vector(dim)  # cast as in the index's expression, so the index serves it
        e = t.embeddings
        vec_column = literal_column("embeddings.vec")  # not in the schema: pgvector's only
        dist = cast(vec_column, width).op("<#>")(cast(bindparam("q", vector_literal(vec)), width))
        q = select(e.c.paper_id, dist).where(e.c.model == literal_column(_quoted(model)))
        if cond:
            q = q.join(t.papers, t.papers.c.id == e.c.paper_id).where(*cond)
        with self.begin() as conn:  # one transaction: the checks, the settings, the search
            indexed, version = conn.execute(text(
                "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = :n), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'vector')"),
                {"n": index_name(model)}).one()
            if not indexed or (cond and version_of(version) < ITERATIVE_SCANS):
                return None
            # an HNSW scan yields at most ef_search rows: never fewer than wanted
            conn.execute(text(f"SET LOCAL hnsw.ef_search = "
                              f"{min(SEARCH_MAX, max(EF_MIN, 2 * k))}"))
            if cond:  # keep walking the graph until k papers pass the filters
                conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            rows = conn.execute(q.order_by(dist).limit(k)).all()
        # relaxed order: nearly sorted by the index; exactly sorted here
        return sorted(((pid, -float(d)) for pid, d in rows), key=lambda h: -h[1])


class _Vector(UserDefinedType):
    """pgvector's `vector(dim)`, for casts: the column itself is untyped (widths differ)."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **_kw: object) -> str:
        return f"vector({self.dim})"

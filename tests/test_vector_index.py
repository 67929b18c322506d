"""pgvector: `papersift embed --index` moves semantic search into PostgreSQL, with the same
answers as the numpy search it replaces; stores without it keep numpy and say why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from papersift.cli import main
from papersift.rank.embed import MiniLM, embed_papers
from papersift.records import Paper
from tests.arxiv_server import DAY1
from tests.cli_kill import kill_at
from tests.pg import PgCluster
from tests.web_fixtures import ANN, make_web

QUERIES = ["recommender systems for online shopping", "speech recognition in noisy rooms",
           "aligning language models with human preferences", "image segmentation"]


def _env(url: str) -> dict[str, str]:
    return {"PAPERSIFT_STORE_URL": url, "PAPERSIFT_EMBEDDING_BACKEND": "minilm"}


def _index(url: str, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["embed", "--index", *args], env=_env(url))
    return res.exit_code, res.output


def test_semantic_search_runs_in_pgvector_with_numpy_answers(
        pgvector_cluster: PgCluster, web_store_file: Path, embedder: MiniLM,
        tmp_path: Path) -> None:
    url = pgvector_cluster.copy_of(web_store_file)
    web = make_web(tmp_path, url, embedder, accounts=False)  # a server started before
    c = web.client()
    paper_id = web.store.digest(ANN, DAY1)[3].paper_id

    # a filter only the paper farthest from the query passes: filtering must come first
    query = embedder.encode([QUERIES[0]])[0]
    ids, m = web.store.embedding_matrix(embedder.key)
    assert len(ids) > 20 * 5  # beyond what filtering the top 20 × limit used to reach
    far = web.store.get_papers([ids[int(np.argmin(m @ query))]])
    far_paper = next(iter(far.values()))
    author = far_paper.authors[0]

    def answers() -> tuple[list, list, list]:
        found = [[(h["id"], h["reason"]) for h in c.get("/api/search", params={
            "q": q, "mode": "semantic", "limit": 10}).json()] for q in QUERIES]
        by_author = c.get("/api/search", params={"q": QUERIES[0], "mode": "semantic",
                                                 "author": author, "limit": 5}).json()
        assert far_paper.id in [h["id"] for h in by_author]
        assert all(author.lower() in " ".join(h["authors"]).lower() for h in by_author)
        return found, [s["id"] for s in c.get(f"/api/papers/{paper_id}").json()["similar"]], \
            [(h["id"], h["reason"]) for h in by_author]

    assert web.store.nearest(embedder.key, query, 5) is None  # numpy until indexed
    before = answers()
    assert all(len(hits) == 10 for hits in before[0]) and len(before[1]) == 8

    code, out = _index(url)
    n = web.store.count_embeddings(embedder.key)
    assert code == 0 and f"pgvector index of {embedder.key}: {n} vectors" in out, out
    assert web.store.nearest(embedder.key, query, 5) is not None  # now from the index
    assert answers() == before

    # a paper embedded after the index was built is found by meaning at once
    new = Paper("2412.99100", "Conversational shopping assistants that recommend products",
                "A recommender for online retail that talks with customers.", ["A. Author"],
                ["cs.IR"], announced=DAY1)
    with web.store.begin() as conn:
        web.store.upsert_papers(conn, [new])
    embed_papers(web.store, embedder, [new])
    hits = c.get("/api/search", params={"q": QUERIES[0], "mode": "semantic"}).json()
    assert hits[0]["id"] == new.id

    code, out = _index(url)  # again: nothing to copy, nothing duplicated
    assert code == 0 and f": {n + 1} vectors" in out and "copied" not in out, out
    web.store.close()


def test_index_without_pgvector_is_a_one_line_error(pg_cluster: PgCluster,
                                                     tmp_path: Path) -> None:
    for url, msg in ((pg_cluster.new_database(), "pgvector is not installed"),
                     (f"sqlite:///{tmp_path / 's.sqlite'}", "needs a PostgreSQL store")):
        code, out = _index(url)
        assert code == 1 and msg in out, out
        assert len(out.strip().splitlines()) == 1


def test_killed_indexing_continues_where_it_stopped(pgvector_cluster: PgCluster,
                                                    web_store_file: Path,
                                                    embedder: MiniLM) -> None:
    url = pgvector_cluster.copy_of(web_store_file)
    engine = create_engine(url)

    def counts() -> tuple[int, int, int]:
        """(vectors of the model, of them in the index column, distinct papers)"""
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*), count(vec), count(DISTINCT paper_id) FROM embeddings "
                "WHERE model = :m"), {"m": embedder.key}).one()

    # batches of 10: the kill lands long before the last of ~40 commits
    kill_at(["embed", "--index", "--batch", "10"], _env(url), "copied 20/")
    total, filled, distinct = counts()
    assert 20 <= filled < total == distinct  # batches committed, none lost or doubled
    code, out = _index(url, "--batch", "50")
    assert code == 0 and f"{total} vectors" in out, out
    assert f"copied {total - filled}/{total - filled}" in out  # only what was left
    assert counts() == (total, total, total)
    engine.dispose()

"""`papersift migrate-store`: a SQLite store copied into PostgreSQL, whole and only once."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from papersift.cli import main
from papersift.rank.embed import StaticMiniLM, embed_papers
from papersift.store import Store
from tests.arxiv_server import DAY1
from tests.delivery_fixtures import store_digest
from tests.pg import PgCluster


def _source(small_store_file: Path, folder: Path) -> tuple[str, list[str]]:
    """The small store with a digest, ratings (serial ids), an account and embeddings."""
    db = folder / "src.sqlite"
    shutil.copy(small_store_file, db)
    store = Store(f"sqlite:///{db}")
    picked = store_digest(store, "ann", DAY1)
    store.record_feedback("ann", picked[0], "up", "web")
    store.record_feedback("ann", picked[1], "down", "web")
    store.save_web_user("ann", password="hash", lang="zh")
    embed_papers(store, StaticMiniLM(), store.listing(DAY1)[:50])
    store.close()
    return f"sqlite:///{db}", picked


def _migrate(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["migrate-store", *args])
    return res.exit_code, res.output


def test_copy_into_postgresql_is_complete_and_usable(pg_cluster: PgCluster,
                                                     small_store_file: Path,
                                                     tmp_path: Path) -> None:
    src_url, picked = _source(small_store_file, tmp_path)
    dst_url = pg_cluster.new_database()
    code, out = _migrate(src_url, dst_url, "--batch", "300")
    assert code == 0, out
    assert "row counts verified" in out
    src, dst = Store(src_url), Store(dst_url)
    listing = src.listing(DAY1)
    assert [p.id for p in dst.listing(DAY1)] == [p.id for p in listing]
    assert dst.get_papers([listing[3].id])[listing[3].id] == listing[3]
    assert [e.paper_id for e in dst.digest("ann", DAY1)] == picked
    assert [f.action for f in dst.feedback("ann")] == ["up", "down"]
    assert dst.web_user("ann").lang == "zh"
    vecs = src.get_embeddings(listing[:50], StaticMiniLM().key)
    got = dst.get_embeddings(listing[:50], StaticMiniLM().key)
    assert got.keys() == vecs.keys() and all(np.array_equal(got[k], vecs[k]) for k in vecs)
    # the serial ids continue after the copied ones: a new rating is stored, not a collision
    dst.record_feedback("ann", picked[2], "up", "web")
    assert len(dst.feedback("ann")) == 3
    # full-text search runs on PostgreSQL's index
    word = listing[0].title.split()[0]
    assert listing[0].id in {p.id for p in dst.search_text(word, limit=500)}


def test_refuses_a_non_empty_destination_and_resume_finishes_a_partial_copy(
        pg_cluster: PgCluster, small_store_file: Path, tmp_path: Path) -> None:
    src_url, _ = _source(small_store_file, tmp_path)
    dst_url = pg_cluster.new_database()
    assert _migrate(src_url, dst_url)[0] == 0
    code, out = _migrate(src_url, dst_url)
    assert code == 1
    assert "is not empty" in out and "--resume" in out
    # an interrupted copy: the last tables and half of a big one are missing
    engine = create_engine(dst_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM embeddings WHERE paper_id IN (SELECT paper_id FROM "
                          "embeddings ORDER BY paper_id LIMIT 20)"))
        conn.execute(text("DELETE FROM web_users"))
        conn.execute(text("DELETE FROM versions WHERE paper_id > '2412.13'"))
    engine.dispose()
    code, out = _migrate(src_url, dst_url, "--resume")
    assert code == 0, out
    src, dst = Store(src_url), Store(dst_url)
    assert dst.count_embeddings(StaticMiniLM().key) == src.count_embeddings(StaticMiniLM().key)
    assert dst.web_user("ann") is not None


def test_bad_destination_is_a_one_line_error(small_store_file: Path, tmp_path: Path) -> None:
    src_url, _ = _source(small_store_file, tmp_path)
    code, out = _migrate(src_url, "postgresql://nobody@127.0.0.1:1/none")
    assert code == 1
    assert out.startswith("error: ") and len(out.strip().splitlines()) == 1

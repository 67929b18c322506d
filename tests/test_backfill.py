"""`papersift embed`: the backfill is resumable after a kill, never duplicates, and splits
into shards whose texts can be embedded elsewhere (a GPU machine, a Ray cluster)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from papersift.cli import main
from papersift.rank.embed import StaticMiniLM
from papersift.store import Store
from tests.cli_kill import kill_at
from tests.pg import both_stores

KEY = StaticMiniLM().key


def _env(url: str) -> dict[str, str]:
    return {"PAPERSIFT_STORE_URL": url, "PAPERSIFT_EMBEDDING_BACKEND": "minilm-static"}


def _rows(url: str) -> tuple[int, int]:
    """(embedding rows, distinct papers among them): equal when nothing is duplicated."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        n, distinct = conn.execute(text(
            "SELECT count(*), count(DISTINCT paper_id) FROM embeddings")).one()
    engine.dispose()
    return n, distinct


@both_stores
def test_killed_backfill_continues_where_it_stopped(store_copy, small_store_file: Path) -> None:  # type: ignore[no-untyped-def]
    url = store_copy(small_store_file)
    total = Store(url).count_papers()
    StaticMiniLM().encode(["warm the distilled model cache"])
    kill_at(["embed", "--all", "--batch", "25"], _env(url), "embedded 100/")
    done, distinct = _rows(url)
    assert 100 <= done < total and done == distinct
    res = CliRunner().invoke(main, ["embed", "--all", "--batch", "100"], env=_env(url))
    assert res.exit_code == 0, res.output
    assert f"embedded {total - done} papers" in res.stdout
    assert "0 still missing" in res.stdout
    assert _rows(url) == (total, total)
    store = Store(url)
    p = store.listing("2024-12-18")[7]
    assert np.allclose(store.get_embeddings([p], KEY)[p.id], StaticMiniLM().encode([p.text])[0],
                       atol=1e-6)


def test_shards_exported_embedded_elsewhere_and_imported(store_copy, small_store_file: Path,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    url = store_copy(small_store_file)
    store = Store(url)
    total = store.count_papers()
    since, until = "2024-12-18", "2024-12-19"
    in_range = store.count_missing_embeddings(KEY, since, until)
    assert 0 < in_range < total
    files = []
    for i in range(2):
        out = tmp_path / f"shard{i}.jsonl"
        res = CliRunner().invoke(main, ["embed", "--since", since, "--until", until,
                                        "--shard", f"{i}/2", "--export-missing", str(out)],
                                 env=_env(url))
        assert res.exit_code == 0, res.output
        files.append(out)
    shards = [[json.loads(x) for x in f.read_text().splitlines()] for f in files]
    ids = [{r["id"] for r in s} for s in shards]
    assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == in_range
    assert min(len(x) for x in ids) > in_range / 4  # the hash splits roughly evenly
    # the worker: what a GPU machine or a Ray task runs on its file (README)
    worker = StaticMiniLM()
    for f, rows in zip(files, shards, strict=True):
        np.save(f.with_suffix(".npy"), 3.0 * worker.encode([r["text"] for r in rows]))
    # one paper changes after the export: its vector would be stale and is not stored
    changed = store.get_papers([shards[0][0]["id"]])[shards[0][0]["id"]]
    changed.abstract += " Revised."
    with store.begin() as conn:
        store.upsert_papers(conn, [changed])
    outs = [CliRunner().invoke(main, ["embed", "--import-vectors", str(f),
                                      str(f.with_suffix(".npy"))], env=_env(url)).output
            for f in files]
    assert f"stored {len(ids[0]) - 1} vectors" in outs[0] and "skipped 1" in outs[0]
    assert f"stored {len(ids[1])} vectors" in outs[1] and "skipped 0" in outs[1]
    assert store.count_missing_embeddings(KEY, since, until) == 1
    some = store.get_papers([shards[1][0]["id"]])
    vec = store.get_embeddings(list(some.values()), KEY)[shards[1][0]["id"]]
    assert np.isclose(np.linalg.norm(vec), 1.0)  # stored unit length, as computed here
    # vectors of another model (the wrong width) are refused, naming the way out
    res = CliRunner().invoke(main, ["embed", "--import-vectors", str(files[0]),
                                    str(files[0].with_suffix(".npy"))],
                             env={**_env(url), "PAPERSIFT_EMBEDDING_BACKEND": "minilm+static"})
    assert res.exit_code == 1 and "256-wide vectors" in res.output
    assert "PAPERSIFT_EMBEDDING_BACKEND=minilm" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path / 's.sqlite'}")
    for args, msg in ((["embed"], "--all"), (["embed", "--all", "--shard", "2/2"], "bad shard"),
                      (["embed", "--import-vectors", str(tmp_path / "x.jsonl"),
                        str(tmp_path / "x.npy")], "cannot read")):
        res = CliRunner().invoke(main, args, env=env)
        assert res.exit_code == 1 and msg in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1

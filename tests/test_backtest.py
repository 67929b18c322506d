"""The list-replay backtest (../shared/EVAL.md): metrics, the time rule, and a real slice."""

import gzip
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from papersift import backtest as bt
from papersift.cli import main
from papersift.rank.base import RANKERS, Background, Candidates, Ranker, UserProfile
from papersift.rank.embed import Joint, MiniLM, StaticMiniLM, VectorMemo, embed_papers
from papersift.records import Paper
from papersift.store import Store
from tests.conftest import DUMP, SHARED

LIST = SHARED / "data" / "lists" / "efficient_reasoning.txt"
START, END = "2025-05-20", "2025-05-29"  # 8 listing days with 33 of the list's papers


def test_metrics_on_a_hand_computed_case() -> None:
    days = [
        (["a", "b", "c"], {"b"}),  # hit at rank 2
        (["d", "e"] + [f"x{i}" for i in range(30)] + ["f"], {"d", "f"}),  # ranks 1 and 33
        (["g"], set()),  # no positive: ignored by ndcg/mrr, adds nothing to recall
    ]
    m = bt.list_metrics(days)
    assert m["positives"] == 3
    assert m["recall@10"] == pytest.approx(2 / 3)
    assert m["recall@25"] == pytest.approx(2 / 3)
    assert m["recall@50"] == pytest.approx(1.0)
    ndcg_day1 = (1 / math.log2(3)) / 1
    ndcg_day2 = 1 / (1 + 1 / math.log2(3))
    assert m["ndcg@10"] == pytest.approx((ndcg_day1 + ndcg_day2) / 2)
    assert m["mrr"] == pytest.approx((1 / 2 + 1) / 2)


def test_missing_positive_counts_as_a_miss() -> None:
    m = bt.list_metrics([(["a", "b"], {"z"})])
    assert m["recall@50"] == 0 and m["ndcg@10"] == 0 and m["mrr"] == 0


def test_macro_is_the_plain_mean_of_lists() -> None:
    per = {"a": dict.fromkeys(bt.METRICS, 1.0), "b": dict.fromkeys(bt.METRICS, 0.0)}
    assert bt.macro(per) == dict.fromkeys(bt.METRICS, 0.5)


def paper(pid: str, announced: str | None, created: str = "2025-01-01") -> Paper:
    return Paper(id=pid, title=f"T {pid}", abstract="a", announced=announced, created=created)


def test_time_rule_nothing_after_the_day_and_no_later_membership() -> None:
    corpus = bt.Corpus([
        paper("2501.00001", "2025-01-02"), paper("2501.00002", "2025-02-01"),
        paper("2501.00003", None, created="2025-02-10"),  # never listed: known from v1 date
        paper("2503.00001", "2025-03-03"), paper("2503.00002", "2025-03-03"),
        paper("2503.00003", "2025-03-04"), paper("2503.00004", "2025-03-05"),
    ])
    ids = ["2501.00002", "2501.00003", "2503.00001", "2503.00003", "2503.00004", "9999.00001"]
    task = bt.make_task(corpus, "l", ids, "2025-03-01", "2025-03-04")
    assert {p.id for p in task.library} == {"2501.00002", "2501.00003"}
    assert {p.id for p in task.background} == {"2501.00001", "2501.00002"}  # the 90 days before
    assert [(d.day, d.positives) for d in task.days] == [
        ("2025-03-03", {"2503.00001"}), ("2025-03-04", {"2503.00003"})]

    seen: list[tuple[str, str]] = []

    class Spy(Ranker):
        """Records what a ranker is shown, to check the harness against the time rule."""

        name = "spy"
        summary = "test"

        def fit(self, profile: UserProfile, background: Background) -> Ranker:
            seen.extend(("fit", bt.paper_date(p)) for p in profile.library + background.papers)
            return super().fit(profile, background)

        def scores(self, candidates: Candidates) -> np.ndarray:
            day = {p.announced for p in candidates.papers}
            assert len(day) == 1
            seen.extend(("rank", p.announced or "") for p in candidates.papers)
            return np.zeros(len(candidates.papers))

    RANKERS["spy"] = Spy
    try:

        bt.run([task], ["spy"], Store("sqlite://"), StaticMiniLM())
    finally:
        del RANKERS["spy"]
    assert all(d < "2025-03-01" for kind, d in seen if kind == "fit")
    assert max(d for kind, d in seen if kind == "rank") == "2025-03-04"


@pytest.fixture(scope="session")
def slice_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real records: the list's papers and everything listed 2025-04-20..END."""
    if not DUMP.exists():
        pytest.skip(f"shared data {DUMP} is missing")
    ids = {line.strip() for line in LIST.read_text().splitlines() if line.strip()}
    out = tmp_path_factory.mktemp("bt") / "slice.jsonl.gz"
    with gzip.open(DUMP, "rt") as src, gzip.open(out, "wt") as dst:
        for line in src:
            r = json.loads(line)
            if r["id"] in ids or "2025-04-20" <= (r.get("announced") or "") <= END:
                dst.write(line)
    return out


@pytest.mark.parametrize("model, width", [(StaticMiniLM, 256), (MiniLM, 384), (Joint, 640)])
def test_no_papers_give_no_vectors_of_the_models_width(model: type, width: int) -> None:
    """An empty day or library stacks with the others' vectors, and loads no model."""
    store, embedder = Store("sqlite://"), model()
    assert embed_papers(store, embedder, []).shape == (0, width)
    assert VectorMemo().fetch(store, embedder, []).shape == (0, width)
    assert embedder._model is None


def test_the_joint_backend_reuses_each_models_cached_vectors() -> None:
    """Switching to minilm+static re-embeds nothing MiniLM already holds (the slow part):
    the pair is both unit vectors side by side, so cosines average the two models'."""
    store = Store("sqlite://")
    papers = [Paper(id=f"2501.0000{i}", title=f"Linear attention {i}",
                    abstract="State space models for long context language modelling.")
              for i in range(3)]
    held = np.eye(3, MiniLM.dim, dtype=np.float32)  # stands for MiniLM's earlier output
    store.put_embeddings(MiniLM().key, list(zip(papers, held, strict=True)))
    joint = Joint()
    vecs = embed_papers(store, joint, papers)
    static = StaticMiniLM().encode([p.text for p in papers])
    assert np.allclose(vecs * np.sqrt(2), np.hstack([held, static]), atol=1e-6)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    assert joint.parts[0]._model is None  # MiniLM was never loaded
    assert np.array_equal(store.get_embeddings(papers, joint.key)[papers[0].id], vecs[0])


def test_backtest_on_a_real_slice(slice_corpus: Path, tmp_path: Path) -> None:
    env = {"PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}",
           "PAPERSIFT_EMBEDDING_BACKEND": "minilm-static"}
    dump = tmp_path / "rank.jsonl"
    res = CliRunner().invoke(main, [
        "backtest", "--corpus", str(slice_corpus), "--library", str(LIST), "--start", START,
        "--end", END, "--ranker", "papersift,random", "--dump-rankings", str(dump),
        "--json"], env=env)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)["rankers"]
    ours, rnd = out["papersift"]["summary"], out["random"]["summary"]
    assert ours["ndcg@10"] >= rnd["ndcg@10"] + 0.4
    assert ours["recall@10"] >= rnd["recall@10"] + 0.4
    assert out["papersift"]["per_list"]["efficient_reasoning"]["positives"] == 33
    lines = [json.loads(x) for x in (tmp_path / "rank.papersift.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and {x["list"] for x in lines} == {"efficient_reasoning"}
    assert [x["day"] for x in lines] == sorted(x["day"] for x in lines)
    assert all(len(x["ranked"]) >= 50 and len(set(x["ranked"])) == len(x["ranked"])
               for x in lines)


def test_single_ranker_json_has_the_documented_shape(slice_corpus: Path, tmp_path: Path) -> None:
    env = {"PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}",
           "PAPERSIFT_EMBEDDING_BACKEND": "minilm-static"}
    res = CliRunner().invoke(main, [
        "backtest", "--corpus", str(slice_corpus), "--library", str(LIST), "--start", START,
        "--end", "2025-05-21", "--ranker", "zad", "--json"], env=env)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"summary", "per_list"}
    assert set(out["summary"]) == set(bt.METRICS)


@pytest.mark.parametrize("args,msg", [
    (["--ranker", "nope"], "unknown ranker 'nope'"),
    ([], "backtest needs --splits and --lists, or --library"),
    (["--library", "x.txt"], "--library needs --start and --end"),
])
def test_bad_backtest_arguments(args: list[str], msg: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["backtest", "--corpus", str(tmp_path / "c.jsonl"), *args],
                             env={"PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}"})
    assert res.exit_code == 1 and msg in res.output


def test_a_library_window_with_nothing_to_measure_is_a_one_line_error(
        slice_corpus: Path, tmp_path: Path) -> None:
    env = {"PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}"}
    stranger = tmp_path / "stranger.txt"
    stranger.write_text("0801.0001\n0802.0002\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n")
    for lib, start, end, msg in [
            (LIST, "2020-01-01", "2020-01-05", "so the library would be empty"),
            (LIST, "2026-12-01", "2026-12-05", "so there is nothing to measure"),
            (stranger, START, END, "none of the 2 ids of"),
            (empty, START, END, "empty.txt holds no arXiv id: check the file")]:
        res = CliRunner().invoke(main, ["backtest", "--corpus", str(slice_corpus), "--library",
                                        str(lib), "--start", start, "--end", end], env=env)
        assert res.exit_code == 1 and msg in res.output, res.output
        assert len(res.output.strip().splitlines()) <= 2  # "loading …" then the error
        if lib == LIST:
            assert re.search(r"its papers in the corpus date from 20\d\d-\d\d-\d\d to 20\d\d-",
                             res.output)


def test_bad_corpus_and_splits_files(tmp_path: Path, slice_corpus: Path) -> None:
    env = {"PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}"}
    lists = SHARED / "data" / "lists"
    res = CliRunner().invoke(main, ["backtest", "--corpus", str(tmp_path / "none.jsonl"),
                                    "--library", str(LIST), "--start", START, "--end", END],
                             env=env)
    assert res.exit_code == 1 and "corpus file" in res.output and "does not exist" in res.output
    bad = tmp_path / "splits.json"
    for text, msg in [("{not json", "cannot read splits file"),
                      ('[{"list": "x"}]', "needs list, cutoff and end"),
                      ('[{"list": "nope", "cutoff": "2025-05-20", "end": "2025-05-21"}]',
                       "cannot read id file")]:
        bad.write_text(text)
        res = CliRunner().invoke(main, ["backtest", "--corpus", str(slice_corpus), "--splits",
                                        str(bad), "--lists", str(lists)], env=env)
        assert res.exit_code == 1 and msg in res.output, res.output
        assert len(res.output.strip().splitlines()) <= 2  # "loading …" then the error

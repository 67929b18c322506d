"""The quality weight in ranking: one place (Ranker.rank), named in the reason line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from papersift import config
from papersift.jobs import daily
from papersift.rank.base import Candidates, UserProfile, get_ranker
from papersift.rank.embed import MiniLM
from papersift.rank.reasons import render
from papersift.records import Paper
from tests.conftest import DEMO_DAY


def paper(pid: str) -> Paper:
    return Paper(id=pid, title=f"Paper {pid}", abstract="About things.", authors=["A B"],
                 categories=["cs.CL"], announced=DEMO_DAY)


def ranked(weight: float, quality: list[float]) -> list[tuple[str, str]]:
    lib = np.eye(4, dtype=np.float32)[:1]
    vecs = np.array([[0.9, 0.1, 0, 0], [0.8, 0.2, 0, 0], [0.7, 0.3, 0, 0]], dtype=np.float32)
    ranker = get_ranker("similarity").fit(
        UserProfile("u", [paper("2501.00001")], lib, np.array([1])), None)  # type: ignore[arg-type]
    ranker.weighs_quality = True  # as papersift's own ranker does; similarity's cosines don't
    ranker.quality_weight = weight
    cands = Candidates([paper(f"2511.0000{i}") for i in range(3)], vecs,
                       np.array(quality), [["accepted at ICLR 2026", "code released"], [], []])
    return [(s.paper_id, render(s.reason)) for s in ranker.rank(cands)]


def test_weight_zero_is_relevance_alone() -> None:
    assert [pid for pid, _ in ranked(0.0, [-5.0, 0.0, 5.0])] == \
        ["2511.00000", "2511.00001", "2511.00002"]
    assert all("quality" not in why for _, why in ranked(0.0, [5.0, 0.0, -5.0]))


def test_rankers_that_are_not_standardised_ignore_the_weight() -> None:
    ranker = get_ranker("asl")
    cands = Candidates([paper("2511.00001"), paper("2511.00002")], np.zeros((2, 4)),
                       np.array([0.0, 9.0]))
    ranker.quality_weight = 1.0
    assert not ranker.quality_lift(cands).any()


def test_quality_lifts_a_paper_and_says_why() -> None:
    order = ranked(1.0, [-1.0, -1.0, 2.0])
    assert order[0][0] == "2511.00002"  # least relevant, best quality
    lifted = ranked(1.0, [2.0, -1.0, -1.0])
    assert lifted[0] == ("2511.00000", lifted[0][1])
    assert lifted[0][1].endswith("quality: accepted at ICLR 2026, code released")
    assert "quality" not in lifted[1][1]  # pushed down, not lifted


@pytest.mark.slow
def test_daily_digest_with_a_quality_weight(demo_env: dict[str, str], embedder: MiniLM,
                                             tmp_path: Path) -> None:
    def digest(weight: str, db: str) -> list[tuple[str, str]]:
        env = {**demo_env, "PAPERSIFT_DIGEST_QUALITY_WEIGHT": weight,
               "PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / db}"}
        Path(tmp_path / db).write_bytes(
            Path(demo_env["PAPERSIFT_STORE_URL"].removeprefix("sqlite:///")).read_bytes())
        settings = config.load(Path(__file__).parents[1] / "examples" / "demo.toml", env=env)
        return [(e.paper.id, e.reason) for e in daily(settings, DEMO_DAY,
                                                        embedder=embedder).digest.entries]

    plain, weighed = digest("0", "a.sqlite"), digest("3", "b.sqlite")
    assert [p for p, _ in plain] != [p for p, _ in weighed]
    assert not any("quality:" in why for _, why in plain)
    assert any("quality:" in why for _, why in weighed)

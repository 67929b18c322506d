"""Every ranker on real papers: fresh stores, keyword-only profiles, thumbs-down."""

from pathlib import Path

import numpy as np
import pytest

from papersift.errors import PapersiftError
from papersift.rank.base import RANKERS, Background, Candidates, UserProfile, get_ranker
from papersift.rank.embed import StaticMiniLM
from papersift.records import Paper
from papersift.sources.dump import ImportReport, read_dump
from tests.conftest import DEMO_DAY

Day = tuple[list[Paper], np.ndarray]


@pytest.fixture(scope="module")
def day(shared_day_dump: Path) -> Day:
    papers = [p for p in read_dump(shared_day_dump, ImportReport()) if p.announced == DEMO_DAY]
    return papers, StaticMiniLM().encode([p.text for p in papers])


def profile(papers: list[Paper], vecs: np.ndarray, labels: list[int]) -> UserProfile:
    return UserProfile("u", papers, vecs, np.array(labels, dtype=int))


def test_rankers_on_a_fresh_store_without_background(day: Day) -> None:
    papers, vecs = day
    lib, cands = papers[:5], Candidates(papers[5:60], vecs[5:60])
    empty = Background([], Candidates([], np.zeros((0, vecs.shape[1]), dtype=np.float32)))
    get_ranker("random")
    for name in sorted(RANKERS):
        ranker = get_ranker(name)
        if name in ("asl", "si"):  # they learn against recent papers by design
            with pytest.raises(PapersiftError, match=f"ranker '{name}' needs recent papers"):
                ranker.fit(profile(lib, vecs[:5], [1] * 5), empty)
            continue
        ranked = ranker.fit(profile(lib, vecs[:5], [1] * 5), empty).rank(cands, 3)
        assert len(ranked) == 55 and all(np.isfinite(s.score) for s in ranked), name
        assert all(s.reason for s in ranked[:3]), name


def test_keywords_alone_lift_matching_papers(day: Day) -> None:
    papers, vecs = day
    word = "diffusion"
    hits = {p.id for p in papers if word in p.text.lower()}
    assert 3 <= len(hits) < len(papers) / 3
    bg = Background(papers, Candidates(papers, vecs))
    prof = UserProfile("u", [], np.zeros((0, vecs.shape[1]), dtype=np.float32),
                       np.zeros(0, dtype=int), keywords=[word])
    ranked = get_ranker("papersift").fit(prof, bg).rank(Candidates(papers, vecs), explain=3)
    top = [s.paper_id for s in ranked[: len(hits)]]
    assert set(top) == hits
    assert ranked[0].reason.startswith(f"keyword: {word}")


def test_thumbs_down_pushes_similar_papers_down(day: Day) -> None:
    papers, vecs = day
    bg = Background(papers, Candidates(papers, vecs))
    cands = Candidates(papers, vecs)
    liked = list(range(0, 40, 4))
    base = get_ranker("papersift").fit(
        profile([papers[i] for i in liked], vecs[liked], [1] * len(liked)), bg).rank(cands)
    target = next(s.paper_id for s in base if s.paper_id not in {papers[i].id for i in liked})
    j = next(i for i, p in enumerate(papers) if p.id == target)
    after = get_ranker("papersift").fit(
        profile([papers[i] for i in [*liked, j]], vecs[[*liked, j]], [1] * len(liked) + [-1]),
        bg).rank(cands)
    rank = {s.paper_id: i for i, s in enumerate(after)}
    assert rank[target] > 20  # from the top of the digest to far below it

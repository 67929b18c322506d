"""Cold start: with almost no library, ask the user about a few recent papers.

The papers are near the user's description, keywords and library (a lexical pre-selection
of recent papers), then scored by the user's own ranker; the ones it is least sure about
(closest to the digest's cut-off score) are preferred, and each pick must differ from the
earlier picks, so a dozen ratings teach the model as much as possible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from papersift.config import Settings
from papersift.errors import ProfileError
from papersift.profile.config_source import ProfileSpec
from papersift.profile.mute import drop_muted
from papersift.rank.base import (
    Background,
    Candidates,
    UserProfile,
    background_sample,
    background_start,
    get_ranker,
)
from papersift.rank.embed import Embedder, embed_papers
from papersift.records import Paper
from papersift.store import Store

COLD = 5  # fewer liked papers than this is a cold start
DIVERSITY = 0.7  # weight of "unlike the earlier picks" against "least sure"


@dataclass
class Pick:
    paper: Paper
    score: float


def choose(settings: Settings, store: Store, spec: ProfileSpec, embedder: Embedder, *,
           count: int = 15, days: int = 14, pool: int = 300, sample: int = 500) -> list[Pick]:
    """`count` recent papers (the last `days` listing days in the store) to rate."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    library = store.library(spec.user)
    lib_papers = store.get_papers([e.paper_id for e in library])
    query = " ".join([spec.description, *spec.keywords, *spec.authors,
                      *(p.title for p in lib_papers.values())]).strip()
    if not query:
        raise ProfileError(f"user {spec.user!r} has nothing to start from: describe your "
                           "interests (profile.description), add keywords (`papersift profile "
                           "keyword …`) or a few papers (`papersift profile add …`) first")
    listing_days = store.listing_days()
    if not listing_days:
        raise ProfileError("the store holds no listings: run `papersift fetch` or "
                           "`papersift import-dump` first")
    end = listing_days[-1]
    start = (date.fromisoformat(end) - timedelta(days=days)).isoformat()
    after_end = (date.fromisoformat(end) + timedelta(days=1)).isoformat()
    seen = {e.paper_id for e in library} | {f.paper_id for f in store.feedback(spec.user)}
    recent = [p for p in store.get_papers(store.papers_announced_between(start, after_end))
              .values() if p.id not in seen]
    recent, _ = drop_muted(sorted(recent, key=lambda p: p.id), spec.muted)
    if not recent:
        raise ProfileError(f"no unrated papers listed between {start} and {end} in the store: "
                           "fetch recent listings first (papersift fetch)")
    # lexical pre-selection: only the nearest `pool` papers are embedded
    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2))
    x = tfidf.fit_transform([p.text for p in recent] + [query])
    near = np.argsort(-(x[:-1] @ x[-1].T).toarray().ravel(), kind="stable")[:pool]
    cands = [recent[i] for i in near]
    bg = list(store.get_papers(store.papers_announced_between(background_start(start),
                                                              start)).values())
    bg_sample = background_sample(bg, sample)
    lib = [lib_papers[e.paper_id] for e in library if e.paper_id in lib_papers]
    vecs = embed_papers(store, embedder, lib + cands + bg_sample)
    lib_v, cand_v, bg_v = np.split(vecs, [len(lib), len(lib) + len(cands)])
    labels = {e.paper_id: e.label for e in library}
    desc_vec = embedder.encode([spec.description])[0] if spec.description else None
    profile = UserProfile(spec.user, lib, lib_v, np.array([labels[p.id] for p in lib]),
                          spec.keywords, spec.authors, spec.description, desc_vec)
    ranker = get_ranker(settings["digest.ranker"])
    ranker.fit(profile, Background(bg, Candidates(bg_sample, bg_v)))
    scores = np.asarray(ranker.scores(Candidates(cands, cand_v)), dtype=float)
    return [Pick(cands[i], float(scores[i])) for i in _least_sure_diverse(
        scores, cand_v, count, settings["digest.size"])]


def _least_sure_diverse(scores: np.ndarray, vecs: np.ndarray, count: int,
                        cut: int) -> list[int]:
    """Greedy: prefer scores near the digest's cut-off (rank `cut`), penalise closeness to
    papers already picked."""
    order = np.sort(scores)[::-1]
    boundary = order[min(cut, len(order)) - 1]
    spread = float(np.std(scores)) or 1.0
    sure = np.abs(scores - boundary) / spread
    unsure = 1.0 - sure / (sure.max() or 1.0)  # 1 at the boundary
    picked: list[int] = []
    closest = np.full(len(scores), -1.0)
    while len(picked) < min(count, len(scores)):
        gain = unsure - DIVERSITY * np.maximum(closest, 0.0)
        gain[picked] = -np.inf
        i = int(np.argmax(gain))
        picked.append(i)
        closest = np.maximum(closest, vecs @ vecs[i])
    return picked

"""The first ranker: semantic closeness to the library, lifted by keywords and authors."""

from __future__ import annotations

import numpy as np

from papersift.rank.base import Candidates, Ranker, register
from papersift.rank.boosts import author_hits, keyword_hits

TOP_K = 3  # average of the k closest library papers: one stray match is not enough
KEYWORD_BOOST, KEYWORD_CAP = 0.06, 0.12
AUTHOR_BOOST = 0.12
NEGATIVE_WEIGHT = 0.5


@register
class Similarity(Ranker):
    name = "similarity"
    summary = "cosine similarity to the library (top-3 mean) + keyword and author boosts"
    uses_background = False

    def scores(self, candidates: Candidates) -> np.ndarray:
        prof = self.profile
        pos = prof.library_vecs[prof.labels > 0]
        neg = prof.library_vecs[prof.labels < 0]
        if prof.description_vec is not None:
            pos = np.vstack([pos, prof.description_vec[None, :]])
        n = len(candidates.papers)
        sims = candidates.vecs @ pos.T if len(pos) else np.zeros((n, 0))
        k = min(TOP_K, sims.shape[1])
        semantic = np.sort(sims, axis=1)[:, -k:].mean(axis=1) if k else np.zeros(n)
        if len(neg):
            semantic -= NEGATIVE_WEIGHT * np.clip((candidates.vecs @ neg.T).max(axis=1), 0, None)
        boost = np.array([
            min(KEYWORD_CAP, KEYWORD_BOOST * len(keyword_hits(p, prof.keywords)))
            + AUTHOR_BOOST * bool(author_hits(p, prof.authors)) for p in candidates.papers])
        return semantic + boost

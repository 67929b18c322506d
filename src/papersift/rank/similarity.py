"""The first ranker: semantic closeness to the library, lifted by keywords and authors."""

from __future__ import annotations

import numpy as np

from papersift.rank.base import Candidates, Ranker, Scored, UserProfile, register
from papersift.rank.boosts import author_hits, keyword_hits

TOP_K = 3  # average of the k closest library papers: one stray match is not enough
KEYWORD_BOOST, KEYWORD_CAP = 0.06, 0.12
AUTHOR_BOOST = 0.12
NEGATIVE_WEIGHT = 0.5


@register
class Similarity(Ranker):
    name = "similarity"
    summary = "cosine similarity to the library (top-3 mean) + keyword and author boosts"

    def rank(self, profile: UserProfile, candidates: Candidates) -> list[Scored]:
        if not candidates.papers:
            return []
        pos = profile.library_vecs[profile.labels > 0]
        neg = profile.library_vecs[profile.labels < 0]
        if profile.description_vec is not None:
            pos = np.vstack([pos, profile.description_vec[None, :]]) if len(pos) else \
                profile.description_vec[None, :]
        sims = candidates.vecs @ pos.T if len(pos) else np.zeros((len(candidates.papers), 0))
        k = min(TOP_K, sims.shape[1])
        semantic = np.sort(sims, axis=1)[:, -k:].mean(axis=1) if k else \
            np.zeros(len(candidates.papers))
        if len(neg):
            semantic -= NEGATIVE_WEIGHT * np.clip((candidates.vecs @ neg.T).max(axis=1), 0, None)
        liked = [p for p, lab in zip(profile.library, profile.labels, strict=True) if lab > 0]
        out = []
        for i, paper in enumerate(candidates.papers):
            kws = keyword_hits(paper, profile.keywords)
            auths = author_hits(paper, profile.authors)
            score = float(semantic[i]) + min(KEYWORD_CAP, KEYWORD_BOOST * len(kws)) \
                + AUTHOR_BOOST * bool(auths)
            out.append(Scored(paper.id, score, _reason(sims[i], liked, kws, auths)))
        out.sort(key=lambda s: (-s.score, s.paper_id))
        return out


def _reason(sims: np.ndarray, liked: list, kws: list[str], auths: list[str]) -> str:
    parts = []
    if auths:
        parts.append("author you follow: " + ", ".join(auths))
    if kws:
        parts.append("keyword: " + ", ".join(kws))
    if len(sims):
        j = int(np.argmax(sims))
        title = liked[j].title if j < len(liked) else "your interests description"
        parts.append(f"close to “{_short(title)}” ({sims[j]:.2f})")
    return "; ".join(parts) or "no match in your profile"


def _short(title: str, n: int = 70) -> str:
    return title if len(title) <= n else title[: n - 1].rstrip() + "…"

"""The ranker interface and registry.

A ranker is fitted once per user profile (library, negatives, keywords, authors) against
background papers the user did not pick, then ranks any number of days. Rankers see plain
arrays and records, never the store, so the daily job and the backtest feed them the same
way, and a new ranker is a small class plus `@register`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import ClassVar

import numpy as np

from papersift.errors import PapersiftError
from papersift.rank.boosts import author_hits, keyword_hits
from papersift.rank.reasons import Part, encode
from papersift.records import Paper


@dataclass
class UserProfile:
    """Everything a ranker may know about one user on the day it ranks."""

    user: str
    library: list[Paper]
    library_vecs: np.ndarray  # (n, d), rows aligned with `library`
    labels: np.ndarray  # (n,) +1 liked, -1 explicit negative
    keywords: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    description: str = ""
    description_vec: np.ndarray | None = None  # (d,)
    added_at: list[str] | None = None  # ISO time each library paper was added or rated
    # (n,) True where the row is the user's own 👍/👎 on a paper papersift showed them
    rated: np.ndarray | None = None


@dataclass
class Candidates:
    """Papers with their embeddings: a day's listing, or background papers for training."""

    papers: list[Paper]
    vecs: np.ndarray  # (m, d), rows aligned with `papers`
    # Quality on the announcement day (papersift.quality) and its cues, when weighed in.
    quality: np.ndarray | None = None
    quality_cues: list[list[str]] | None = None


BACKGROUND_DAYS = 90  # a user's background: what was listed in the last 90 days
BACKGROUND_SAMPLE = 3000  # background papers embedded for vector models


@dataclass
class Background:
    """Recent papers the user did not pick: all of them for text models, and an embedded
    sample for vector models (embedding every recent paper would cost minutes a day)."""

    papers: list[Paper]
    sample: Candidates


def background_start(day: str) -> str:
    """First listing day of the background of `day` (the background ends the day before)."""
    return (date.fromisoformat(day) - timedelta(days=BACKGROUND_DAYS)).isoformat()


def background_sample(papers: Sequence[Paper], n: int = BACKGROUND_SAMPLE) -> list[Paper]:
    """A sample that is stable from day to day (ranked by a hash of the id), so yesterday's
    cached embeddings are mostly reused."""
    return sorted(papers, key=lambda p: hashlib.md5(p.id.encode()).digest())[:n]


@dataclass
class Scored:
    paper_id: str
    score: float
    reason: str  # encoded parts (papersift.rank.reasons); "" past `rank`'s `explain`
    level: float | None = None  # share of recent papers it outranks ("worth reading"), 0–1


DIVERSIFY_TOP = 20  # the head of a ranking that is re-ordered for diversity (a digest's size)
REDUNDANT = 0.5  # cosine similarity below which two papers do not repeat each other


QUALITY_CLIP = 3.0  # one outstanding paper must not drown relevance
QUALITY_REASON = 0.25  # a lift this large (in relevance units) is named in the reason


class Ranker(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]
    uses_background: ClassVar[bool] = True  # False spares the daily job loading it
    # MMR in the top DIVERSIFY_TOP: the score a paper loses for being a copy of one ranked
    # above it, falling linearly to nothing at cosine REDUNDANT (0 = pure relevance order)
    diversity: ClassVar[float] = 0.0
    reference: np.ndarray | None = None  # sorted scores of recent papers, for `worth_reading`
    quality_weight: float = 0.0  # digest.quality_weight: 0 ranks by relevance alone
    # the weight is in standard deviations: only rankers whose scores are standardised use it
    # (the anchors replay other tools as published, and raw cosines would drown in it)
    weighs_quality: ClassVar[bool] = False

    def fit(self, profile: UserProfile, background: Background) -> Ranker:
        """Learn the user; `background` holds recent papers the user did not pick."""
        self.profile = profile
        return self

    @abstractmethod
    def scores(self, candidates: Candidates) -> np.ndarray:
        """One relevance score per candidate, higher is better."""

    def why(self, candidates: Candidates, scores: np.ndarray) -> list[list[Part]]:
        """The parts of each candidate's reason; rankers that know better override this."""
        return explain(self.profile, candidates.papers, candidates.vecs)

    def reasons(self, candidates: Candidates, scores: np.ndarray) -> list[str]:
        """A one-line reason per candidate, encoded (`papersift.rank.reasons.render` shows
        it in a language)."""
        return [encode(parts) for parts in self.why(candidates, scores)]

    def calibrate(self, sample: Candidates) -> None:
        """Score recent papers once, so any score can say what share of them it beats.
        Rankers whose `fit` already scores the background set `reference` there."""
        if self.reference is None and sample.papers:
            self.reference = np.sort(np.asarray(self.scores(sample), dtype=float))

    def worth_reading(self, scores: np.ndarray) -> np.ndarray | None:
        """Share of recent papers each score beats (0.99: better than 99 %); None if
        uncalibrated."""
        if self.reference is None or not len(self.reference):
            return None
        return np.searchsorted(self.reference, scores) / len(self.reference)

    def rank(self, candidates: Candidates, explain: int | None = None) -> list[Scored]:
        """All candidates, best first (ties by id, so runs are reproducible; the head
        diversified when `diversity` > 0); the first `explain` (default: all) carry a
        reason."""
        if not candidates.papers:
            return []
        relevance = np.asarray(self.scores(candidates), dtype=float)
        lift = self.quality_lift(candidates)
        s = relevance + lift
        order = np.lexsort((np.array([p.id for p in candidates.papers]), -s)).tolist()
        if self.diversity > 0 and candidates.vecs.ndim == 2 and candidates.vecs.shape[1]:
            order = _mmr(order[:DIVERSIFY_TOP], s, candidates.vecs, self.diversity) + \
                order[DIVERSIFY_TOP:]
        levels = self.worth_reading(s)
        top = order[: len(order) if explain is None else explain]
        picked = Candidates([candidates.papers[i] for i in top], candidates.vecs[top])
        why = dict(zip(top, self.why(picked, s[top]), strict=True)) if top else {}
        for i in top:
            cues = candidates.quality_cues[i] if candidates.quality_cues else []
            if lift[i] >= QUALITY_REASON and cues:
                why[i] = [*why[i], Part("quality", {"cues": cues[:2]})]
        return [Scored(candidates.papers[i].id, float(s[i]), encode(why[i]) if i in why else "",
                       None if levels is None else float(levels[i])) for i in order]

    def quality_lift(self, candidates: Candidates) -> np.ndarray:
        """weight × quality standardised among the candidates (one announcement day)."""
        q = candidates.quality
        if not (self.weighs_quality and self.quality_weight) or q is None or len(q) < 2 \
                or np.std(q) == 0:
            return np.zeros(len(candidates.papers))
        z = np.clip((q - np.mean(q)) / np.std(q), -QUALITY_CLIP, QUALITY_CLIP)
        return self.quality_weight * z


def unit_rows(vecs: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero), for cosines."""
    return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)


def _mmr(head: list[int], s: np.ndarray, vecs: np.ndarray, penalty: float) -> list[int]:
    """Maximal marginal relevance: repeatedly take the paper whose score, less a penalty
    growing with its similarity to the closest paper already taken, is highest."""
    unit = unit_rows(vecs[head])
    sims = unit @ unit.T
    base = s[head]
    closest = np.full(len(head), -np.inf)  # similarity to the closest paper taken so far
    taken: list[int] = []
    for _ in head:
        gain = base - penalty * np.maximum(0.0, closest - REDUNDANT) / (1 - REDUNDANT)
        gain[taken] = -np.inf
        taken.append(int(np.argmax(gain)))
        closest = np.maximum(closest, sims[taken[-1]])
    return [head[i] for i in taken]


def explain(profile: UserProfile, papers: Sequence[Paper], vecs: np.ndarray
            ) -> list[list[Part]]:
    """Per paper: followed authors, keywords, and the closest liked library paper."""
    liked = np.flatnonzero(profile.labels > 0)
    sims = vecs @ profile.library_vecs[liked].T if len(liked) and len(papers) else None
    out = []
    for i, paper in enumerate(papers):
        parts = []
        if auths := author_hits(paper, profile.authors):
            parts.append(Part("author", {"names": auths}))
        if kws := keyword_hits(paper, profile.keywords):
            parts.append(Part("keyword", {"names": kws}))
        if sims is not None:
            j = int(np.argmax(sims[i]))
            rated = profile.rated is not None and profile.rated[liked[j]]
            parts.append(close_to(profile.library[liked[j]].title, float(sims[i, j]),
                                  bool(rated)))
        elif profile.description_vec is not None:
            parts.append(Part("description",
                              {"sim": round(float(profile.description_vec @ vecs[i]), 4)}))
        out.append(parts or [Part("nothing")])
    return out


def close_to(title: str, sim: float, rated: bool = False) -> Part:
    """"close to “a library paper”" (the similarity rounded for storage: two digits show)."""
    return Part("close_rated" if rated else "close",
                {"title": short_title(title), "sim": round(sim, 4)})


def short_title(title: str, n: int = 70) -> str:
    return title if len(title) <= n else title[: n - 1].rstrip() + "…"


RANKERS: dict[str, type[Ranker]] = {}


def register(cls: type[Ranker]) -> type[Ranker]:
    RANKERS[cls.name] = cls
    return cls


def get_ranker(name: str) -> Ranker:
    # Importing the implementations fills the registry.
    from papersift.rank import anchors, blend, similarity  # noqa: F401

    if name not in RANKERS:
        raise PapersiftError(f"unknown ranker {name!r}: use one of {', '.join(sorted(RANKERS))} "
                             "(config key digest.ranker)")
    return RANKERS[name]()

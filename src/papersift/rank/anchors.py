"""The tools papersift is measured against, as selectable rankers, faithful to their
published algorithms (parameters from ../shared/EVAL.md). Baselines, not code to tune."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from papersift.errors import PapersiftError
from papersift.rank.base import Background, Candidates, Ranker, UserProfile, register
from papersift.records import Paper

SI_NEGATIVES = 3000  # random background papers for Scholar Inbox's logistic regression


def _need_negatives(name: str, n: int) -> None:
    if n == 0:
        raise PapersiftError(f"ranker '{name}' needs recent papers to learn against and the "
                             "store has none: import a dump or fetch a few days first, or "
                             "use the papersift ranker")


def asl_text(p: Paper) -> str:
    """arxiv-sanity-lite's document: title | authors | abstract."""
    return f"{p.title} | {', '.join(p.authors)} | {p.abstract}"


@register
class Random(Ranker):
    name = "random"
    summary = "a seeded shuffle: the floor every ranker must clear"
    uses_background = False

    def scores(self, candidates: Candidates) -> np.ndarray:
        ids = "".join(p.id for p in candidates.papers)
        seed = int.from_bytes(ids.encode()[-8:].ljust(8, b"0"), "little")
        return np.random.default_rng(seed).random(len(candidates.papers))


@register
class ArxivSanityLite(Ranker):
    name = "asl"
    summary = "arxiv-sanity-lite: TF-IDF (1-2 grams) + LinearSVC, library vs the last 90 days"

    def fit(self, profile: UserProfile, background: Background) -> Ranker:
        super().fit(profile, background)
        lib = [p for p, lab in zip(profile.library, profile.labels, strict=True) if lab > 0]
        ids = {p.id for p in lib}
        neg = [p for p in background.papers if p.id not in ids]
        _need_negatives(self.name, len(neg))
        docs = [asl_text(p) for p in lib + neg]
        self.tfidf = TfidfVectorizer(ngram_range=(1, 2), max_features=20000, min_df=5,
                                     max_df=0.1, sublinear_tf=True, stop_words="english",
                                     strip_accents="unicode", dtype=np.float32,
                                     token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b")
        x = self.tfidf.fit_transform(docs)
        y = np.r_[np.ones(len(lib)), np.zeros(len(neg))]
        self.svm = LinearSVC(C=0.01, class_weight="balanced", tol=1e-6, max_iter=10000)
        self.svm.fit(x, y)
        return self

    def scores(self, candidates: Candidates) -> np.ndarray:
        return self.svm.decision_function(
            self.tfidf.transform([asl_text(p) for p in candidates.papers]))


@register
class ZoteroArxivDaily(Ranker):
    name = "zad"
    summary = "zotero-arxiv-daily: 10·Σ cos(paper, library_j)·w_j, newer library papers weigh more"
    uses_background = False

    def fit(self, profile: UserProfile, background: Background) -> Ranker:
        super().fit(profile, background)
        liked = [i for i in np.argsort([_date(p) for p in profile.library])[::-1]
                 if profile.labels[i] > 0]  # newest first
        self.lib = profile.library_vecs[liked]
        w = 1 / (1 + np.log10(np.arange(len(liked)) + 1))
        self.w = w / w.sum() if len(w) else w
        return self

    def scores(self, candidates: Candidates) -> np.ndarray:
        return 10 * (candidates.vecs @ self.lib.T) @ self.w


@register
class ScholarInbox(Ranker):
    name = "si"
    summary = "Scholar Inbox: logistic regression on embeddings, library vs random recent papers"

    def fit(self, profile: UserProfile, background: Background) -> Ranker:
        super().fit(profile, background)
        pos = profile.library_vecs[profile.labels > 0]
        lib_ids = {p.id for p in profile.library}
        sample = background.sample
        idx = [i for i, p in enumerate(sample.papers) if p.id not in lib_ids][:SI_NEGATIVES]
        _need_negatives(self.name, len(idx))
        x = np.vstack([pos, sample.vecs[idx]])
        y = np.r_[np.ones(len(pos)), np.zeros(len(idx))]
        self.lr = LogisticRegression(C=0.1, class_weight="balanced", max_iter=1000)
        self.lr.fit(x, y)
        return self

    def scores(self, candidates: Candidates) -> np.ndarray:
        return self.lr.decision_function(candidates.vecs)


def _date(p: Paper) -> str:
    return p.announced or p.created or ""

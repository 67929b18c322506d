"""papersift's default ranker: lexical and semantic evidence, blended and calibrated.

Three cheap per-user models, each measured on the backtest (benchmarks/RESULTS.md):
- lexical: naive-Bayes log-count ratios of 1–2-grams (library vs background documents
  containing them), applied to a paper's TF-IDF weights;
- semantic: a linear discriminant on embeddings (library mean vs background, with the
  background covariance shared by every user of the period);
- multi-interest: the mean similarity to the 10 closest library papers, so a paper close to
  one of several interests is not averaged away.
Each score is standardised against the background sample and summed; keywords and followed
authors add to it. The sum's rank among the background sample is a calibrated "worth
reading" level: 0.99 means the paper outranks 99 % of recent papers.

Everything per period (TF-IDF vocabulary, background counts and covariance) is computed
once and shared by all users, so fitting a user costs milliseconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from papersift.rank.anchors import asl_text
from papersift.rank.base import Background, Candidates, Ranker, UserProfile, explain, register
from papersift.rank.boosts import author_hits, keyword_hits
from papersift.records import Paper

NB_ALPHA = 0.1  # smoothing of the log-count ratios
LDA_SHRINK = 1.0  # covariance shrinkage towards the identity (relative to its trace)
KNN = 10  # library neighbours averaged by the multi-interest score
KEYWORD_Z, AUTHOR_Z = 1.0, 2.0  # boosts, in standard deviations of the blended score
NEGATIVE_WEIGHT = 5.0  # an explicit thumbs-down counts like this many background papers
CALIBRATION = 1000  # background papers each user's scores are standardised against


@dataclass
class Period:
    """What every user of one background period shares."""

    tfidf: TfidfVectorizer
    bg_df: np.ndarray  # background documents containing each term
    n_bg: int
    mu: np.ndarray  # background embedding mean
    precision: np.ndarray  # (Σ + shrinkage)⁻¹ of background embeddings
    sample: Candidates
    sample_x: sp.csr_matrix  # TF-IDF of the sample
    vocabulary: np.ndarray  # term of each column, for reasons
    _day: tuple[str, sp.csr_matrix] | None = None
    _rows: dict[str, sp.csr_matrix] = field(default_factory=dict)

    def terms(self, papers: list[Paper]) -> sp.csr_matrix:
        """TF-IDF of a day's candidates, analysed once for all users."""
        key = _fingerprint(papers)
        if self._day is None or self._day[0] != key:
            self._day = (key, _tfidf(self.tfidf, papers))
        return self._day[1]

    def library_terms(self, papers: list[Paper]) -> sp.csr_matrix:
        """TF-IDF rows of library papers, each analysed once per period (libraries overlap,
        and a user's library barely changes from one day to the next)."""
        todo = [p for p in papers if p.id not in self._rows]
        x = _tfidf(self.tfidf, todo)
        self._rows.update((p.id, x[i]) for i, p in enumerate(todo))
        if not papers:
            return _tfidf(self.tfidf, [])
        return sp.vstack([self._rows[p.id] for p in papers], format="csr")


def _fingerprint(papers: list[Paper]) -> str:
    h = hashlib.sha1()
    for p in papers:
        h.update(p.id.encode())
    return h.hexdigest()


_PERIOD: list[tuple[Background, str, Period]] = []  # one period is all a run needs


def period(background: Background) -> Period:
    """The shared state of `background`: found by identity (every user of a run gets the same
    object), else by content, else built."""
    if _PERIOD and _PERIOD[0][0] is background:
        return _PERIOD[0][2]
    key = _fingerprint(background.papers) + _fingerprint(background.sample.papers)
    if not _PERIOD or _PERIOD[0][1] != key:
        _PERIOD[:] = [(background, key, _build_period(background))]
    _PERIOD[0] = (background, key, _PERIOD[0][2])
    return _PERIOD[0][2]


def _build_period(background: Background) -> Period:
    tfidf = TfidfVectorizer(ngram_range=(1, 2), max_features=50000, min_df=3, max_df=0.1,
                            sublinear_tf=True, stop_words="english", strip_accents="unicode",
                            dtype=np.float32, token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b")
    # With no background yet (a fresh store) the vocabulary is a placeholder: the lexical
    # part then scores 0 and the semantic parts rank alone until papers accumulate.
    texts = [asl_text(p) for p in background.papers] or ["papersift"]
    try:
        x = _binary(tfidf.fit_transform(texts))
    except ValueError:  # too few background papers for the usual pruning: keep every term
        tfidf.set_params(min_df=1, max_df=1.0, stop_words=None)
        x = _binary(tfidf.fit_transform(texts))
    vecs = background.sample.vecs
    d = vecs.shape[1] if vecs.ndim == 2 and vecs.shape[1] else 384
    cov = np.cov(vecs.T) if len(vecs) > 1 else np.eye(d)
    shrink = LDA_SHRINK * np.trace(cov) / d
    return Period(tfidf=tfidf, bg_df=np.asarray(x.sum(0)).ravel(), n_bg=x.shape[0],
                  mu=vecs.mean(0) if len(vecs) else np.zeros(d),
                  precision=np.linalg.inv(cov + shrink * np.eye(d)),
                  sample=background.sample,
                  sample_x=_tfidf(tfidf, background.sample.papers),
                  vocabulary=tfidf.get_feature_names_out())


def _tfidf(tfidf: TfidfVectorizer, papers: list[Paper]) -> sp.csr_matrix:
    if not papers:  # sklearn refuses an empty batch
        return sp.csr_matrix((0, len(tfidf.vocabulary_)), dtype=np.float32)
    return tfidf.transform([asl_text(p) for p in papers])


def _binary(x: sp.spmatrix) -> sp.csr_matrix:
    x = sp.csr_matrix(x, dtype=np.float32)
    x.data[:] = 1.0
    return x


@register
class Blend(Ranker):
    name = "papersift"
    summary = ("naive-Bayes 1–2-gram ratios + embedding discriminant + nearest "
               "library papers, calibrated against recent papers, + keyword/author boosts")

    def fit(self, profile: UserProfile, background: Background) -> Ranker:
        super().fit(profile, background)
        per = self.period = period(background)
        pos = profile.labels > 0
        neg = profile.labels < 0
        lib_x = _binary(per.library_terms(profile.library))
        # lexical: log-count ratio of term presence, library vs background (+ negatives)
        p = (np.asarray(lib_x[pos].sum(0)).ravel() + NB_ALPHA) / (pos.sum() + 2 * NB_ALPHA)
        bg_df = per.bg_df + NEGATIVE_WEIGHT * np.asarray(lib_x[neg].sum(0)).ravel()
        n_bg = per.n_bg + NEGATIVE_WEIGHT * neg.sum()
        q = (bg_df + NB_ALPHA) / (n_bg + 2 * NB_ALPHA)
        self.ratio = np.log(p / q).astype(np.float32) if pos.any() else np.zeros_like(p)
        # semantic: discriminant direction from the shared background covariance
        liked = profile.library_vecs[pos]
        if profile.description_vec is not None:
            liked = np.vstack([liked, profile.description_vec[None, :]])
        mu_bg = per.mu
        if neg.any():
            mu_bg = (per.mu * len(per.sample.papers) + NEGATIVE_WEIGHT *
                     profile.library_vecs[neg].sum(0)) / (len(per.sample.papers)
                                                          + NEGATIVE_WEIGHT * neg.sum())
        self.direction = per.precision @ (liked.mean(0) - mu_bg) if len(liked) else \
            np.zeros_like(per.mu)
        self.liked = liked
        self.disliked = profile.library_vecs[neg]
        # standardise each part on the background sample, then calibrate the sum
        parts = self._parts(per.sample_x[:CALIBRATION], per.sample.vecs[:CALIBRATION])
        if parts.shape[1] >= 2:
            self.mean, self.std = parts.mean(1, keepdims=True), parts.std(1, keepdims=True)
        else:  # no background yet (a fresh store): raw scores, no calibration
            self.mean, self.std = np.zeros((3, 1)), np.ones((3, 1))
        self.std = self.std + 1e-9
        self.reference = np.sort(((parts - self.mean) / self.std).sum(0))
        return self

    def _parts(self, x: sp.csr_matrix, vecs: np.ndarray) -> np.ndarray:
        lexical = x @ self.ratio
        semantic = vecs @ self.direction
        if len(self.liked):
            sims = vecs @ self.liked.T
            k = min(KNN, sims.shape[1])
            near = np.partition(sims, -k, axis=1)[:, -k:].mean(1)
        else:
            near = np.zeros(len(vecs))
        if len(self.disliked):
            near = near - (vecs @ self.disliked.T).max(1)
        return np.vstack([lexical, semantic, near])

    def scores(self, candidates: Candidates) -> np.ndarray:
        x = self.period.terms(candidates.papers)
        parts = (self._parts(x, candidates.vecs) - self.mean) / self.std
        boost = np.array([KEYWORD_Z * bool(keyword_hits(p, self.profile.keywords))
                          + AUTHOR_Z * bool(author_hits(p, self.profile.authors))
                          for p in candidates.papers])
        return parts.sum(0) + boost

    def worth_reading(self, scores: np.ndarray) -> np.ndarray:
        """Share of recent background papers each score beats (0–1)."""
        return np.searchsorted(self.reference, scores) / max(1, len(self.reference))

    def reasons(self, candidates: Candidates, scores: np.ndarray) -> list[str]:
        out = []
        x = _tfidf(self.period.tfidf, candidates.papers)
        vocab = self.period.vocabulary
        for i, (paper, vec) in enumerate(zip(candidates.papers, candidates.vecs, strict=True)):
            row = x[i]
            contrib = row.data * self.ratio[row.indices]
            top = [vocab[row.indices[j]] for j in np.argsort(-contrib)[:3] if contrib[j] > 0.3]
            level = self.worth_reading(scores[i : i + 1])[0]
            parts = [explain(self.profile, paper, vec)]
            if top:
                parts.append("terms: " + ", ".join(top))
            if len(self.reference):
                parts.append(f"top {max(0.1, 100 * (1 - level)):.1f}% of recent papers")
            out.append("; ".join(parts))
        return out

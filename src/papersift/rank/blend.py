"""papersift's default ranker: lexical and semantic evidence, blended and calibrated.

Cheap per-user models, each kept because the backtest measured it helping
(benchmarks/BACKTEST.md):
- lexical: naive-Bayes log-count ratios of 1–2-grams (library vs background documents
  containing them), applied to a paper's TF-IDF weights;
- semantic: a linear discriminant on embeddings (library mean vs background, with the
  background covariance shared by every user of the period);
- interests: the library split into clusters of ~25 papers, one discriminant per cluster,
  the best cluster counts — researchers have several interests, and one direction averages
  the small ones away;
- neighbours: the mean similarity to the 10 closest library papers in embedding space, and
  (half weight) to the 5 closest in TF-IDF space;
- feedback: 👎 papers count as heavy background in the lexical and semantic models, and once
  there are a few, a logistic regression of 👍/library vs 👎 on embeddings learns what the
  user turns down *within* their topics (👎 papers are on-topic: the ones that were shown);
  closeness to the papers they 👍'd in their digests adds to a paper's score (what a user
  likes now, where the library also holds what they liked years ago), and so does sharing
  an author with one of them (unless the author is on many recent papers).
Each score is standardised against the background sample and summed; keywords and followed
authors add to it. The sum's rank among the background sample is a calibrated "worth
reading" level: 0.99 means the paper outranks 99 % of recent papers.

Everything per period (TF-IDF vocabulary, background counts and covariance) is computed
once and shared by all users, so fitting a user costs milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from papersift.config import xdg_cache_home
from papersift.names import author_key
from papersift.rank.anchors import asl_text
from papersift.rank.base import (
    Background,
    Candidates,
    Ranker,
    UserProfile,
    explain,
    register,
    short_title,
    unit_rows,
)
from papersift.rank.boosts import author_hits, keyword_hits
from papersift.rank.reasons import Part
from papersift.rank.tfidf_fit import fit_tfidf
from papersift.records import Paper

NB_ALPHA = 0.1  # smoothing of the log-count ratios
LDA_SHRINK = 2.0  # covariance shrinkage towards the identity (relative to its trace)
KNN = 10  # library neighbours averaged by the semantic neighbour score
KNN_TERMS = 5  # … and by the lexical one
CLUSTER_SIZE = 25  # library papers per interest cluster, roughly
PART_WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 0.5])  # lexical, semantic, interests, near, terms
KEYWORD_Z, AUTHOR_Z = 1.0, 2.0  # boosts, in standard deviations of the blended score
NEGATIVE_WEIGHT = 15.0  # an explicit thumbs-down counts like this many background papers
FEEDBACK_Z = 1.0  # weight of the 👍-vs-👎 regression, in blended-score units …
FEEDBACK_RAMP = 20  # … reached at this many 👎 (fewer say less)
FEEDBACK_MIN = 3  # 👎 needed before the regression is fitted at all
LIKES_Z = 1.5  # weight of the closeness to the closest paper 👍'd in a digest …
LIKES_RAMP = 5  # … reached at this many such 👍 (fewer say less)
LIKED_AUTHOR_Z = 1.0  # lift for sharing an author with a paper 👍'd in a digest …
LIKED_AUTHOR_MAX = 10  # … who is on at most this many background papers (prolific names
# are on half the field's papers: lifting them all lost 0.02 ndcg@10 on the biggest list)
STACK_MIN = 5  # 👍 and 👎 of shown papers (each) before the part weights are learned
STACK_PRIOR = 10  # … and how many 👍 weigh as much as the default weights
STACK_FLOOR = 0.25  # no part falls below this share of its default weight
TERM_BLOCKS = 8  # analysed TF-IDF blocks kept apart before they are merged into one
CALIBRATION = 500  # background papers each user's scores are standardised against


@dataclass
class Period:
    """What every user of one background period shares."""

    tfidf: TfidfVectorizer
    bg_df: np.ndarray  # background documents containing each term
    n_bg: int
    mu: np.ndarray  # background embedding mean
    precision: np.ndarray  # (Σ + shrinkage)⁻¹ of background embeddings
    sample: Candidates
    calibration_x: sp.csr_matrix  # TF-IDF of the sample's first CALIBRATION papers
    vocabulary: np.ndarray  # term of each column, for reasons
    author_papers: dict[str, int]  # background papers of each author (by author_key)
    _day: tuple[str, sp.csr_matrix, list[list[str]]] | None = None  # id hash, TF-IDF, authors
    # TF-IDF rows analysed so far, in blocks (appending to one matrix would copy it each
    # time); id → (block, row)
    _blocks: list[sp.csr_matrix] = field(default_factory=list)
    _rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    _columns: dict[int, tuple[sp.csr_matrix, sp.csr_matrix]] = field(default_factory=dict)

    def columns(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """`x` transposed (terms × papers), kept for the matrices every user multiplies:
        the calibration sample and the day's candidates."""
        if (hit := self._columns.get(id(x))) is None or hit[0] is not x:
            if len(self._columns) > 4:
                self._columns.clear()
            hit = self._columns[id(x)] = (x, x.T.tocsr())
        return hit[1]

    def terms(self, papers: list[Paper]) -> sp.csr_matrix:
        """TF-IDF of a day's candidates, analysed once for all users."""
        return self._today(papers)[1]

    def author_keys(self, papers: list[Paper]) -> list[list[str]]:
        """`author_key` of each author of a day's candidates, folded once for all users."""
        return self._today(papers)[2]

    def _today(self, papers: list[Paper]) -> tuple[str, sp.csr_matrix, list[list[str]]]:
        key = _fingerprint(papers)
        if self._day is None or self._day[0] != key:
            self._day = (key, _tfidf(self.tfidf, papers),
                         [[author_key(a) for a in p.authors] for p in papers])
        return self._day

    def paper_terms(self, papers: list[Paper]) -> sp.csr_matrix:
        """TF-IDF rows of library papers and top picks, each analysed once per period
        (libraries and picks overlap between users, and barely change from day to day)."""
        todo = list({p.id: p for p in papers if p.id not in self._rows}.values())
        if todo:
            self._rows.update((p.id, (len(self._blocks), i)) for i, p in enumerate(todo))
            self._blocks.append(_tfidf(self.tfidf, todo))
            if len(self._blocks) > TERM_BLOCKS:  # few blocks keep a gather cheap
                start = np.cumsum([0] + [x.shape[0] for x in self._blocks])
                self._rows = {pid: (0, int(start[b]) + r) for pid, (b, r) in self._rows.items()}
                self._blocks = [sp.vstack(self._blocks, format="csr")]
        if not papers:
            return _tfidf(self.tfidf, [])
        where = np.array([self._rows[p.id] for p in papers])
        blocks = np.unique(where[:, 0])
        if len(blocks) == 1:
            return self._blocks[blocks[0]][where[:, 1]]
        stacked = sp.vstack([self._blocks[b][where[where[:, 0] == b, 1]] for b in blocks],
                            format="csr")  # block by block: back into the asked order
        return stacked[np.argsort(np.argsort(where[:, 0], kind="stable"), kind="stable")]


def _fingerprint(papers: list[Paper]) -> str:
    """Ids and authors (a new version of a paper may change its authors, which the period's
    author counts and a day's author keys are built from)."""
    h = hashlib.sha1()
    for p in papers:
        h.update(p.id.encode())
        h.update("\x1f".join(p.authors).encode())
    return h.hexdigest()


_PERIOD: list[tuple[Background, str, Period]] = []  # one period is all a run needs
PERIOD_FILES = 3  # periods kept on disk: today's, and a couple for reruns of earlier days


def period(background: Background) -> Period:
    """The shared state of `background`: found by identity (every user of a run gets the same
    object), else by content in memory, then on disk (tomorrow's run, a rerun), else built."""
    if _PERIOD and _PERIOD[0][0] is background:
        return _PERIOD[0][2]
    h = hashlib.sha1(f"{__name__}:{_PERIOD_VERSION}".encode())
    h.update(_fingerprint(background.papers).encode())
    h.update(_fingerprint(background.sample.papers).encode())
    h.update(np.ascontiguousarray(background.sample.vecs).tobytes())
    # the width too: an empty sample's vectors have no bytes, yet a period built from
    # another embedder's (its mean, its covariance) does not fit this one's vectors
    h.update(str(background.sample.vecs.shape[1:]).encode())
    key = h.hexdigest()
    if not _PERIOD or _PERIOD[0][1] != key:
        _PERIOD[:] = [(background, key, _load_period(key) or _save_period(
            key, _build_period(background)))]
    _PERIOD[0] = (background, key, _PERIOD[0][2])
    return _PERIOD[0][2]


_PERIOD_VERSION = 8  # bump when Period or its computation changes: old files are then ignored


def _period_dir() -> Path:
    return xdg_cache_home() / "papersift" / "periods"


def _load_period(key: str) -> Period | None:
    try:
        with open(_period_dir() / f"{key}.pkl", "rb") as f:
            return pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None  # absent, or written by another version: rebuild it


def _save_period(key: str, per: Period) -> Period:
    """Write the period for the next run (atomically; a cache that cannot be written only
    costs time) and keep the newest few."""
    folder = _period_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(replace(per, _day=None, _blocks=[], _rows={}, _columns={}), f,
                        protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{key}.pkl")
        for old in sorted(folder.glob("*.pkl"), key=lambda p: p.stat().st_mtime)[:-PERIOD_FILES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
    return per


def _build_period(background: Background) -> Period:
    tfidf = TfidfVectorizer(ngram_range=(1, 2), max_features=50000, min_df=3, max_df=0.1,
                            sublinear_tf=True, stop_words="english", strip_accents="unicode",
                            dtype=np.float32, token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b")
    # With no background yet (a fresh store) the vocabulary is a placeholder: the lexical
    # part then scores 0 and the semantic parts rank alone until papers accumulate.
    texts = [asl_text(p) for p in background.papers] or ["papersift"]
    try:
        counts = fit_tfidf(tfidf, texts)  # = tfidf.fit, in 0.6 of the time
    except ValueError:  # too few background papers for the usual pruning: keep every term
        tfidf.set_params(min_df=1, max_df=1.0, stop_words=None)
        counts = fit_tfidf(tfidf, texts)
    vecs = background.sample.vecs
    d = vecs.shape[1] if vecs.ndim == 2 and vecs.shape[1] else 384
    cov = np.cov(vecs.T) if len(vecs) > 1 else np.eye(d)
    shrink = LDA_SHRINK * np.trace(cov) / d
    # float32 like the vectors: a float64 direction would copy every user's vectors to
    # float64 before each product (measured ~8 % of a user's fit + rank)
    return Period(tfidf=tfidf, bg_df=_doc_freq(counts), n_bg=counts.shape[0],
                  mu=(vecs.mean(0) if len(vecs) else np.zeros(d)).astype(np.float32),
                  precision=np.linalg.inv(cov + shrink * np.eye(d)).astype(np.float32),
                  sample=background.sample,
                  calibration_x=_tfidf(tfidf, background.sample.papers[:CALIBRATION]),
                  vocabulary=tfidf.get_feature_names_out(),
                  author_papers=Counter(k for p in background.papers
                                        for k in {author_key(a) for a in p.authors}))


def _tfidf(tfidf: TfidfVectorizer, papers: list[Paper]) -> sp.csr_matrix:
    if not papers:  # sklearn refuses an empty batch
        return sp.csr_matrix((0, len(tfidf.vocabulary_)), dtype=np.float32)
    return tfidf.transform([asl_text(p) for p in papers])


def _top_mean(sims: np.ndarray, k: int) -> np.ndarray:
    k = min(k, sims.shape[1])
    return np.partition(sims, -k, axis=1)[:, -k:].mean(1)


def interest_clusters(vecs: np.ndarray, size: int = CLUSTER_SIZE, iters: int = 10) -> np.ndarray:
    """Cluster label of each row: spherical k-means with ~`size` rows per cluster, seeded, so a
    profile always yields the same clusters (and fits in about a millisecond)."""
    k = max(1, len(vecs) // size)
    if k == 1:
        return np.zeros(len(vecs), dtype=int)
    unit = unit_rows(vecs)
    centres = unit[np.random.default_rng(0).choice(len(unit), k, replace=False)]
    labels = None
    for _ in range(iters):
        new = np.argmax(unit @ centres.T, axis=1)
        if labels is not None and np.array_equal(new, labels):
            break  # converged: another round would compute the same centres
        labels = new
        member = np.zeros((k, len(unit)), dtype=unit.dtype)
        member[labels, np.arange(len(unit))] = 1.0
        sums = member @ unit
        filled = member.any(1)  # an empty cluster keeps its centre
        centres[filled] = sums[filled] / np.maximum(
            np.linalg.norm(sums[filled], axis=1, keepdims=True), 1e-9)
    # numbered 0..k'-1 with no gaps: a centre can end up with no members
    return np.unique(np.argmax(unit @ centres.T, axis=1), return_inverse=True)[1]


def _cluster_titles(papers: list[Paper], liked: np.ndarray, labels: np.ndarray,
                    centres: np.ndarray) -> list[Part]:
    """Each interest cluster named by its most central library paper and its size."""
    names = []
    for c in range(centres.shape[1]):
        rows = [i for i in np.flatnonzero(labels == c) if i < len(papers)]  # not the description
        if not rows:
            names.append(Part("interest_description"))
            continue
        best = rows[int(np.argmax(liked[rows] @ centres[:, c]))]
        title = short_title(papers[best].title, 50)
        names.append(Part("interest_more", {"title": title, "more": len(rows) - 1})
                     if len(rows) > 1 else Part("interest", {"title": title}))
    return names


def _feedback_model(profile: UserProfile) -> tuple[LogisticRegression, float] | None:
    """👍 vs 👎 on embeddings, with its weight; None until there are a few 👎. Once the
    user has 👍'd a few shown papers, only rated papers are used: shown 👍 against shown 👎
    learns what they turn down among what they are shown, where library against 👎 partly
    learns old papers against new ones. Measured (benchmarks/feedback.py): that choice
    +0.005 ndcg@10; subtracting the similarity to the closest 👎 instead buried good papers
    beside a turned-down one and lost 0.025."""
    neg = profile.labels < 0
    n_neg = int(neg.sum())
    if n_neg < FEEDBACK_MIN or n_neg == len(profile.labels):
        return None
    rows = np.ones(len(neg), dtype=bool)
    if profile.rated is not None and (~neg & profile.rated).sum() >= FEEDBACK_MIN:
        rows = profile.rated
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=200)
    model.fit(profile.library_vecs[rows], (~neg[rows]).astype(int))
    return model, FEEDBACK_Z * min(1.0, n_neg / FEEDBACK_RAMP)


def _stacked_weights(profile: UserProfile, background: Background) -> np.ndarray:
    """How much each kind of evidence counts for this user, learned from their ratings of
    shown papers (users differ: one reading list is lexical, another semantic). A model is
    fitted without those ratings; its parts, regressed on 👍 vs 👎, give the weights, shrunk
    towards the defaults (an equal mix at STACK_PRIOR 👍: 10 measured +0.003 ndcg@10 over 30).
    Measured (benchmarks/feedback.py): +0.017 ndcg@10 with feedback when first built;
    +0.029 with the rated-only 👍-vs-👎 regression and this prior.
    Learning them from the library alone (newest papers held out) lost 0.008 without it."""
    pos, r = profile.labels > 0, profile.rated
    if r is None or min((pos & r).sum(), (~pos & r).sum()) < STACK_MIN or not (pos & ~r).any():
        return PART_WEIGHTS
    base = Blend()
    base.stacks = False
    base.fit(replace(profile, library=[p for p, ok in zip(profile.library, r, strict=True)
                                       if not ok], library_vecs=profile.library_vecs[~r],
                     labels=profile.labels[~r], rated=None, added_at=None), background)
    shown = [p for p, ok in zip(profile.library, r, strict=True) if ok]
    x = (base._parts(base.period.paper_terms(shown), profile.library_vecs[r]) - base.mean) \
        / base.std
    y = pos[r]
    coef = np.maximum(LogisticRegression(C=1.0, class_weight="balanced").fit(x.T, y).coef_[0], 0)
    if not coef.any():
        return PART_WEIGHTS
    learned = coef * PART_WEIGHTS.sum() / coef.sum()
    share = y.sum() / (y.sum() + STACK_PRIOR)
    return np.maximum((1 - share) * PART_WEIGHTS + share * learned, STACK_FLOOR * PART_WEIGHTS)


def _doc_freq(x: sp.csr_matrix, rows: np.ndarray | None = None) -> np.ndarray:
    """How many documents (of `rows`, a mask; default all) contain each term."""
    terms = x.indices if rows is None else x.indices[np.repeat(rows, np.diff(x.indptr))]
    return np.bincount(terms, minlength=x.shape[1]).astype(np.float64)


@register
class Blend(Ranker):
    name = "papersift"
    diversity = 2.0  # standard deviations; measured: costs no backtest accuracy
    weighs_quality = True
    summary = ("naive-Bayes 1–2-gram ratios + embedding discriminants (whole library and per "
               "interest cluster) + nearest library papers, calibrated against recent papers, "
               "+ keyword/author boosts")

    weights = PART_WEIGHTS
    stacks = True  # False for the held-out model that learns the weights

    def fit(self, profile: UserProfile, background: Background) -> Ranker:
        super().fit(profile, background)
        per = self.period = period(background)
        self.weights = _stacked_weights(profile, background) if self.stacks \
            else PART_WEIGHTS
        pos = profile.labels > 0
        neg = profile.labels < 0
        lib_terms = per.paper_terms(profile.library)
        # lexical: log-count ratio of term presence, library vs background (+ negatives)
        p = (_doc_freq(lib_terms, pos) + NB_ALPHA) / (pos.sum() + 2 * NB_ALPHA)
        bg_df = per.bg_df + NEGATIVE_WEIGHT * _doc_freq(lib_terms, neg)
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
        self.cluster_of = interest_clusters(liked)
        k = self.cluster_of.max() + 1 if len(liked) else 0
        centres = np.stack([liked[self.cluster_of == c].mean(0) for c in range(k)], 1) \
            if k else np.zeros((len(per.mu), 0))
        self.directions = per.precision @ (centres - mu_bg[:, None])
        cal = per.sample.vecs[:CALIBRATION] @ self.directions
        self.cluster_mean = cal.mean(0) if len(cal) > 1 else np.zeros(k)
        self.cluster_std = (cal.std(0) if len(cal) > 1 else np.ones(k)) + 1e-9
        self.liked_terms = lib_terms if pos.all() else lib_terms[pos]
        self.cluster_titles = _cluster_titles([p for p, ok in zip(profile.library, pos,
                                                                   strict=True) if ok],
                                              liked, self.cluster_of, centres)
        self.feedback = _feedback_model(profile)
        cal_vecs = per.sample.vecs[:CALIBRATION]
        rated_likes = pos & profile.rated if profile.rated is not None else np.zeros_like(pos)
        self.likes = unit_rows(profile.library_vecs[rated_likes])
        self.likes_mean, self.likes_std = 0.0, 1.0
        self.liked_authors = {k: a for i in np.flatnonzero(rated_likes)
                              for a in profile.library[i].authors
                              if (k := author_key(a))  # not a name of punctuation only
                              and per.author_papers.get(k, 0) <= LIKED_AUTHOR_MAX}
        if len(self.likes) and len(cal_vecs) > 1:  # standardised like the parts
            cal = self._closest_like(cal_vecs)
            self.likes_mean, self.likes_std = float(cal.mean()), float(cal.std()) + 1e-9
        # standardise each part on the background sample, then calibrate the sum
        parts = self._parts(per.calibration_x, cal_vecs)
        if parts.shape[1] >= 2:
            self.mean, self.std = parts.mean(1, keepdims=True), parts.std(1, keepdims=True) + 1e-9
            self.reference = np.sort(self.weights @ ((parts - self.mean) / self.std)
                                     + self._feedback(cal_vecs))
        else:  # no background yet (a fresh store): raw scores, no calibration
            self.mean, self.std = np.zeros((len(parts), 1)), np.ones((len(parts), 1))
            self.reference = None
        return self
    def _interests(self, vecs: np.ndarray) -> np.ndarray:
        """(n, k) standardised score of each paper for each interest cluster."""
        return (vecs @ self.directions - self.cluster_mean) / self.cluster_std

    def _parts(self, x: sp.csr_matrix, vecs: np.ndarray) -> np.ndarray:
        n = len(vecs)
        lexical = x @ self.ratio
        semantic = vecs @ self.direction
        interests = self._interests(vecs).max(1) if self.directions.shape[1] else np.zeros(n)
        near, terms = np.zeros(n), np.zeros(n)
        if len(self.liked):
            near = _top_mean(vecs @ self.liked.T, KNN)
        if self.liked_terms.shape[0]:  # library × papers: a third faster than papers × library
            terms = _top_mean((self.liked_terms @ self.period.columns(x)).toarray().T, KNN_TERMS)
        return np.vstack([lexical, semantic, interests, near, terms])

    def scores(self, candidates: Candidates) -> np.ndarray:
        x = self.period.terms(candidates.papers)
        parts = self.weights @ ((self._parts(x, candidates.vecs) - self.mean) / self.std)
        if self.profile.keywords or self.profile.authors:
            parts = parts + np.array([KEYWORD_Z * bool(keyword_hits(p, self.profile.keywords))
                                      + AUTHOR_Z * bool(author_hits(p, self.profile.authors))
                                      for p in candidates.papers])
        if self.liked_authors:
            parts = parts + LIKED_AUTHOR_Z * np.array(
                [bool(self._liked_authors_of(keys))
                 for keys in self.period.author_keys(candidates.papers)])
        return parts + self._feedback(candidates.vecs)

    def _liked_authors_of(self, keys: list[str]) -> list[str]:
        """Of a paper's authors (`author_key`s), those who wrote a paper the user 👍'd in a
        digest, as named there."""
        return [self.liked_authors[k] for k in keys if k in self.liked_authors]

    def _closest_like(self, vecs: np.ndarray) -> np.ndarray:
        return (unit_rows(vecs) @ self.likes.T).max(1)

    def _feedback(self, vecs: np.ndarray) -> np.ndarray:
        """What the user's ratings of shown papers add: the 👍-vs-👎 regression, and the
        closeness to the closest paper they 👍'd (measured, benchmarks/feedback.py: +0.017
        ndcg@10 over the regression alone; as close to the newest library papers instead,
        without ratings, it lost 0.005–0.023)."""
        out = np.zeros(len(vecs))
        if self.feedback is not None:
            model, weight = self.feedback
            out += weight * model.decision_function(vecs)
        if len(self.likes) and len(vecs):
            out += LIKES_Z * min(1.0, len(self.likes) / LIKES_RAMP) * (
                self._closest_like(vecs) - self.likes_mean) / self.likes_std
        return out

    def why(self, candidates: Candidates, scores: np.ndarray) -> list[list[Part]]:
        out = []
        x = self.period.paper_terms(candidates.papers)
        vocab = self.period.vocabulary
        levels = self.worth_reading(scores)
        cluster = self._interests(candidates.vecs).argmax(1) if len(self.cluster_titles) > 1 \
            else None
        near = explain(self.profile, candidates.papers, candidates.vecs)
        for i in range(len(candidates.papers)):
            terms = x.indices[x.indptr[i]:x.indptr[i + 1]]
            contrib = x.data[x.indptr[i]:x.indptr[i + 1]] * self.ratio[terms]
            top = [str(vocab[terms[j]]) for j in np.argsort(-contrib)[:3] if contrib[j] > 0.3]
            parts = list(near[i])
            if liked_by := self._liked_authors_of(
                    [author_key(a) for a in candidates.papers[i].authors]):
                parts.append(Part("liked_author", {"names": liked_by[:2]}))
            if cluster is not None:
                parts.append(self.cluster_titles[cluster[i]])
            if top:
                parts.append(Part("terms", {"terms": top}))
            if levels is not None:
                parts.append(Part("top", {"share": round(max(0.1, 100 * (1 - levels[i])), 2)}))
            out.append(parts)
        return out

"""Quality models: a transparent default and a learned one, both reading `FEATURES`.

The default is a weighted sum anyone can read (`DEFAULT_WEIGHTS`); it needs no training
data. The learned model is a gradient-boosted classifier (or regressor, for graded targets)
trained on any per-paper signal. Public attention is what such signals usually measure,
and attention does not reward peer review: accepted papers are old news by the time they
are accepted. So acceptance at a venue keeps a fixed bonus on top of every learned model
(`MERIT`), measured against reviewers' judgement rather than upvotes.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from papersift.quality.features import COL, FEATURES

# Weights of the default model, each per unit of a feature (most features are 0/1 or log1p
# counts). Chosen by reading, not fitting: authors' earlier attention and team size are the
# strongest public cues; venue acceptance, released code and concrete results are what
# reviewers reward.
DEFAULT_WEIGHTS: dict[str, float] = {
    "prior_featured_sum": 1.0,  # authors' earlier papers featured (e.g. HF daily papers)
    "prior_votes_max": 0.1,
    "prior_papers_max": 0.25,  # the most experienced author's earlier papers
    "prior_liked": 0.5,  # authors of papers this store's users liked …
    "prior_disliked": -0.5,  # … or gave a thumbs-down
    "prior_recommended": 0.1,
    "n_authors": 0.6,
    "venue_main": 0.8,
    "venue_workshop": 0.3,
    "venue_highlight": 0.3,
    "url": 0.4,
    "github": 0.2,
    "release": 0.2,
    "results": 0.2,
    "claims": 0.1,
    "llm_terms": 0.3,
    "named_title": 0.3,
}
MERIT: dict[str, float] = {k: DEFAULT_WEIGHTS[k] for k in
                           ("venue_main", "venue_workshop", "venue_highlight")}


def _linear(weights: dict[str, float]) -> np.ndarray:
    w = np.zeros(len(FEATURES), dtype=np.float64)
    for name, v in weights.items():
        w[COL[name]] = v
    return w


class QualityModel:
    kind = "default"

    def __init__(self) -> None:
        self.w = _linear(DEFAULT_WEIGHTS)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Higher is better; only the order within a day matters to the ranker."""
        return x.astype(np.float64) @ self.w

    def describe(self) -> str:
        return "default (transparent weights: " + ", ".join(
            f"{k} {v:+g}" for k, v in DEFAULT_WEIGHTS.items()) + ")"


@dataclass
class LearnedModel(QualityModel):
    """A fitted scikit-learn estimator plus the venue bonus; `meta` says what it learned
    from (target, split, figures)."""

    estimator: object
    meta: dict = field(default_factory=dict)
    kind = "learned"

    def __post_init__(self) -> None:
        self.w = _linear(MERIT)

    def score(self, x: np.ndarray) -> np.ndarray:
        est = self.estimator
        with threadpool_limits(1, user_api="openmp"):  # see train(): faster on busy CPUs
            raw = (est.decision_function(x) if hasattr(est, "decision_function")  # type: ignore[attr-defined]
                   else est.predict(x))  # type: ignore[attr-defined]
        return np.asarray(raw, dtype=np.float64) + x.astype(np.float64) @ self.w

    def describe(self) -> str:
        m = self.meta
        return (f"learned ({m.get('estimator', '?')} on {m.get('target', '?')}, trained "
                f"{m.get('trained_at', '?')} on papers before {m.get('split', '?')}) "
                f"+ venue bonus")

    def dumps(self) -> bytes:
        buf = io.BytesIO()
        pickle.dump({"features": list(FEATURES), "estimator": self.estimator}, buf)
        return buf.getvalue()

    @classmethod
    def loads(cls, blob: bytes, meta: dict) -> LearnedModel | None:
        """None when the stored model was trained on another feature set (an older
        papersift): the caller falls back to the default and says so."""
        data = pickle.loads(blob)  # our own store's blob, written by dumps()
        if data.get("features") != list(FEATURES):
            return None
        return cls(data["estimator"], meta)

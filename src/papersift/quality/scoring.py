"""Quality scores of papers exactly as the ranker sees them on their announcement day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from papersift.quality.features import COL, Event, FeatureTable, build
from papersift.quality.models import LearnedModel, QualityModel
from papersift.records import Paper
from papersift.store import Store

CUE_ATTENTION = np.log1p(3)  # authors' earlier papers featured at least 3 times
CUE_EXPERIENCE = np.log1p(20)  # an author with at least 20 earlier papers


@dataclass
class QualityScores:
    ids: list[str]
    days: list[str]
    score: np.ndarray  # higher is better; comparable within one model
    cues: list[list[str]]  # why, in words, for reason lines
    model: str  # describe() of the model that scored

    def by_id(self) -> dict[str, tuple[float, list[str]]]:
        return {pid: (float(s), c) for pid, s, c in zip(self.ids, self.score, self.cues,
                                                        strict=True)}


def load_model(store: Store) -> QualityModel:
    """The newest learned model in the store, else the transparent default."""
    stored = store.quality_model()
    if stored is not None:
        meta, blob = stored
        learned = LearnedModel.loads(blob, meta)
        if learned is not None:
            return learned
    return QualityModel()


def cues(table: FeatureTable, i: int) -> list[str]:
    """The quality cues of paper `i`, strongest first."""
    f = table.x[i]
    out = []
    venue = table.venues[i] if table.venues else None
    if f[COL["venue_main"]]:
        out.append(f"accepted at {venue}" if venue else "accepted at a venue")
    elif f[COL["venue_workshop"]]:
        out.append(f"{venue} workshop paper" if venue else "workshop paper")
    if f[COL["github"]] or f[COL["release"]]:
        out.append("code released")
    elif f[COL["huggingface"]]:
        out.append("model/data released")
    if f[COL["prior_liked"]]:
        out.append("authors of papers liked here")
    if f[COL["prior_featured_sum"]] >= CUE_ATTENTION:
        out.append("authors' earlier papers drew wide attention")
    elif f[COL["prior_papers_max"]] >= CUE_EXPERIENCE:
        out.append(f"experienced authors ({round(float(np.expm1(f[COL['prior_papers_max']])))} "
                   "earlier papers)")
    return out


def assess(store: Store, papers: Sequence[Paper], *,
           history: Sequence[tuple[str, str, Sequence[str]]] | None = None,
           events: Sequence[Event] | None = None,
           model: QualityModel | None = None) -> QualityScores:
    """Score `papers`, each on its own announcement day. By default the authors' track
    record comes from every stored paper, signal, rating and recommendation; the backtest
    passes its corpus as `history` instead."""
    if history is None:
        history = store.paper_history()
    if events is None:
        events = store.signal_events() + store.feedback_events()
    model = model or load_model(store)
    table = build(store.as_first_stored(papers), history, events)
    score = model.score(table.x) if len(papers) else np.zeros(0)
    return QualityScores(table.ids, table.days, score,
                         [cues(table, i) for i in range(len(papers))], model.describe())

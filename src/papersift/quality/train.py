"""Training and evaluating quality models on a per-paper signal, with a strict time split.

A signal file has one JSON object per line: {"id", "signal", "value", "date"} (the shared
Hugging Face daily-papers file has this form; a lab's own ratings can too). Two targets:
- `featured` (default): was the paper signalled within `horizon` days of its announcement,
  among all papers announced that day — public attention;
- `value`: the signal's value, learned on the papers that have one — graded ratings.
Training uses papers announced before `split - horizon` days (their labels are complete by
the split), evaluation the papers announced on or after `split`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from papersift.errors import PapersiftError
from papersift.quality.features import COL, FeatureTable, build
from papersift.quality.models import LearnedModel, QualityModel
from papersift.records import normalize_id
from papersift.store import Store, utcnow

TARGETS = ("featured", "value")
SIGNAL_FEATURES = ("prior_featured_max", "prior_featured_sum", "prior_votes_max")


def read_signals(path: Path) -> list[tuple[str, str, str, float]]:
    """(paper_id, signal, day, value) rows; a bad line is an error naming it."""
    if not Path(path).exists():
        raise PapersiftError(f"signals file {path} does not exist: check --signals")
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                day = date.fromisoformat(str(r["date"])[:10]).isoformat()
                value = float(r.get("value", 1.0))
                if not math.isfinite(value):
                    raise ValueError("value is not a finite number")
                rows.append((normalize_id(str(r["id"])), str(r.get("signal") or "signal"),
                             day, value))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError,
                    PapersiftError) as e:
                why = f"missing field {e}" if isinstance(e, KeyError) else str(e)
                raise PapersiftError(f"{path}:{n}: bad signal line ({why}): each line must be "
                                     'a JSON object like {"id": "2501.00001", "signal": '
                                     '"upvotes", "value": 12, "date": "2025-01-02"}') from None
    if not rows:
        raise PapersiftError(f"signals file {path} holds no signals: check --signals")
    return rows


@dataclass
class Labels:
    featured: np.ndarray  # bool: signalled within the horizon
    value: np.ndarray  # best signal value within the horizon (nan without one)


def label(table: FeatureTable, rows: Sequence[tuple[str, str, str, float]],
          horizon: int) -> Labels:
    best: dict[str, list[tuple[str, float]]] = {}
    for pid, _, day, value in rows:
        best.setdefault(pid, []).append((day, value))
    featured = np.zeros(len(table.ids), dtype=bool)
    value = np.full(len(table.ids), np.nan)
    for i, (pid, day) in enumerate(zip(table.ids, table.days, strict=True)):
        last = (date.fromisoformat(day) + timedelta(days=horizon)).isoformat()
        hits = [v for d, v in best.get(pid, ()) if day <= d <= last]
        if hits:
            featured[i], value[i] = True, max(hits)
    return Labels(featured, value)


def day_auc(score: np.ndarray, y: np.ndarray, days: np.ndarray) -> float:
    """Mean AUC over days with both classes: ranking among same-day candidates."""
    aucs = [roc_auc_score(y[m], score[m]) for d in np.unique(days)
            if 0 < y[m := days == d].sum() < m.sum()]
    return float(np.mean(aucs)) if aucs else float("nan")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b).statistic) if len(a) >= 3 else float("nan")


@dataclass
class Evaluation:
    """Figures on the test days, one row per model."""

    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    test_papers: int = 0
    test_positives: int = 0


def evaluate(models: dict[str, np.ndarray], labels: Labels, days: np.ndarray,
             test: np.ndarray) -> Evaluation:
    ev = Evaluation(test_papers=int(test.sum()), test_positives=int(labels.featured[test].sum()))
    pos = test & labels.featured
    for name, s in models.items():
        row = {"spearman_featured": spearman(s[pos], labels.value[pos])}
        if 0 < ev.test_positives < ev.test_papers:
            row["auc_same_day"] = day_auc(s[test], labels.featured[test], days[test])
            row["auc_pooled"] = float(roc_auc_score(labels.featured[test], s[test]))
        ev.rows[name] = row
    return ev


@dataclass
class TrainReport:
    model_id: int
    target: str
    split: str
    train_papers: int
    train_positives: int
    evaluation: Evaluation


def train(store: Store, signals: Path, *, split: str | None = None, horizon: int = 7,
          target: str = "featured") -> TrainReport:
    """Import the signals, fit a model on papers before the split, evaluate it after,
    store it (the ranker uses the newest stored model)."""
    if target not in TARGETS:
        raise PapersiftError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    rows = read_signals(signals)
    store.add_signals(rows)
    papers = [p for p in store.papers_known_since(None) if p.announced]
    if not papers:
        raise PapersiftError("the store holds no listed papers to learn from: import a dump "
                             "(papersift import-dump) or fetch listings first")
    table = build(store.as_first_stored(papers), store.paper_history(),
                  store.signal_events() + store.feedback_events())
    labels = label(table, rows, horizon)
    days = np.array(table.days)
    split = split or str(np.quantile(days.astype("datetime64[D]").astype(int), 0.8)
                         .astype(int).astype("datetime64[D]"))
    train_end = (date.fromisoformat(split) - timedelta(days=horizon)).isoformat()
    fit_rows = days < train_end
    if target == "value":
        fit_rows &= labels.featured
    y = labels.featured[fit_rows] if target == "featured" else labels.value[fit_rows]
    if target == "featured" and len(set(y.tolist())) < 2:
        raise PapersiftError(f"no {'signalled' if not y.any() else 'unsignalled'} papers "
                             f"announced before {train_end} to learn from: move --split later "
                             "or use signals for papers in the store")
    if target == "value" and len(y) < 20:
        raise PapersiftError(f"only {len(y)} signalled papers before {train_end}: at least 20 "
                             "are needed; move --split later or add signals")
    est: object
    if target == "featured":
        est = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05,
                                             min_samples_leaf=50, random_state=0)
    else:
        est = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05,
                                            min_samples_leaf=20, random_state=0)
    # One thread: OpenMP's spinning threads slow boosting down tenfold on a busy machine,
    # and a few thousand rows do not need more.
    with threadpool_limits(1, user_api="openmp"):
        est.fit(table.x[fit_rows], y)  # type: ignore[attr-defined]
    meta = {"target": f"{target} ({Path(signals).name}, horizon {horizon} days)",
            "estimator": type(est).__name__, "split": split, "trained_at": utcnow()[:10]}
    learned = LearnedModel(est, meta)
    test = days >= split
    unsignalled = table.x.copy()  # what the default gives a store without any signals
    unsignalled[:, [COL[c] for c in SIGNAL_FEATURES]] = 0
    ev = evaluate({"learned": learned.score(table.x),
                   "default": QualityModel().score(table.x),
                   "default, no signals": QualityModel().score(unsignalled),
                   "authors only": table.x[:, COL["n_authors"]]}, labels, days, test)
    meta["evaluation"] = ev.rows
    model_id = store.save_quality_model(meta, learned.dumps())
    return TrainReport(model_id, target, split, int(fit_rows.sum()),
                       int(labels.featured[fit_rows].sum()), ev)


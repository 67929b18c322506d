"""Distillation: the LLM's stored judgements (each paper's relevance 0–10, the soft label,
in `llm_judgements`) teach the user's local model.

Papers the model judged relevant (>= 7 of 10) join the user's library as a source of their
own ("llm"), so tomorrow's local ranking learns from today's strong judge for free. Only
positives: the library has no weak negatives, and an unread paper judged irrelevant is not
evidence enough to push its neighbours down. Flagged papers (whose text addressed the
model) never join. `papersift profile remove llm` undoes it.
"""

from __future__ import annotations

from papersift.store import Store
from papersift.store.profiles import SyncCounts

SOURCE = "llm"
WEAK_POSITIVE = 7.0


def distill(store: Store, user: str, threshold: float = WEAK_POSITIVE) -> SyncCounts:
    """Make the "llm" library source exactly the unflagged papers judged >= threshold."""
    picks = [pid for pid, j in store.latest_judgements(user).items()
             if j.relevance >= threshold and not j.flagged]
    return store.sync_source(user, SOURCE, "ids", f"LLM judgements (relevance >= "
                             f"{threshold:g})", sorted(picks))

"""Muted topics: papers on them never reach the digest, whatever their score."""

from __future__ import annotations

import re
from collections.abc import Sequence

from papersift.records import Paper

_CATEGORY = re.compile(r"^[a-z\-]+(\.[A-Za-z\-]+)?$")


def muted_by(paper: Paper, muted: Sequence[str]) -> str | None:
    """The muted term that hits `paper`: one of its categories (cs.CV), or a phrase in its
    title or abstract (whole words, any case)."""
    text = f"{paper.title} {paper.abstract}"
    for term in muted:
        t = term.strip()
        if not t:
            continue
        if _CATEGORY.match(t) and "." in t and t in paper.categories:
            return t
        if re.search(rf"(?<!\w){re.escape(t)}(?!\w)", text, re.IGNORECASE):
            return t
    return None


def drop_muted(papers: Sequence[Paper], muted: Sequence[str]) -> tuple[list[Paper], int]:
    kept = [p for p in papers if muted_by(p, muted) is None] if muted else list(papers)
    return kept, len(papers) - len(kept)

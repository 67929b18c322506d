"""Explicit interests: keywords and followed authors found in a paper."""

from __future__ import annotations

import re
from functools import lru_cache

from papersift.names import fold, name_parts
from papersift.records import Paper

# A day's texts are folded once, whatever the number of users (names are not cached: the
# quality track record folds every stored name once, which would only churn the cache).
_fold_text = lru_cache(maxsize=8192)(fold)


def keyword_hits(paper: Paper, keywords: list[str]) -> list[str]:
    """Keywords present in title or abstract as whole words (case-insensitive)."""
    if not keywords:
        return []
    text = _fold_text(paper.text)
    return [k for k in keywords
            if re.search(rf"(?<!\w){re.escape(_fold_text(k.strip()))}(?!\w)", text)]


def _same_author(followed: list[str], on_paper: list[str]) -> bool:
    """Full names must agree; a followed name written with initials ("Y. LeCun")
    matches any first name with those initials."""
    if not followed or not on_paper or followed[-1] != on_paper[-1]:
        return False
    first, theirs = followed[:-1], on_paper[:-1]
    if all(len(p) == 1 for p in first):
        return [p[0] for p in theirs[: len(first)]] == first
    return first == theirs


def author_hits(paper: Paper, authors: list[str]) -> list[str]:
    """Followed authors who are on the paper."""
    if not authors:
        return []
    on_paper = [name_parts(a) for a in paper.authors]
    return [a for a in authors if any(_same_author(name_parts(a), p) for p in on_paper)]

"""Explicit interests: keywords and followed authors found in a paper."""

from __future__ import annotations

import re

from papersift.names import fold, name_parts
from papersift.records import Paper


def keyword_hits(paper: Paper, keywords: list[str]) -> list[str]:
    """Keywords present in title or abstract as whole words (case-insensitive)."""
    if not keywords:
        return []
    text = fold(paper.text)
    return [k for k in keywords
            if re.search(rf"(?<!\w){re.escape(fold(k.strip()))}(?!\w)", text)]


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

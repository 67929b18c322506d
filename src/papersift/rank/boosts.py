"""Explicit interests: keywords and followed authors found in a paper."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from papersift.records import Paper


@lru_cache(maxsize=8192)  # a day's texts are folded once, whatever the number of users
def _fold(s: str) -> str:
    """Lower-case, accents removed, so 'Schölkopf' matches 'Scholkopf'."""
    if s.isascii():  # most names and texts: nothing to decompose
        return s.lower()
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


def keyword_hits(paper: Paper, keywords: list[str]) -> list[str]:
    """Keywords present in title or abstract as whole words (case-insensitive)."""
    if not keywords:
        return []
    text = _fold(paper.text)
    return [k for k in keywords
            if re.search(rf"(?<!\w){re.escape(_fold(k.strip()))}(?!\w)", text)]


def _name_parts(name: str) -> list[str]:
    return _fold(name).replace(".", " ").replace("-", " ").split()


def _same_author(followed: list[str], on_paper: list[str]) -> bool:
    """Full names must agree; a followed name written with initials ("Y. LeCun")
    matches any first name with those initials."""
    if not followed or not on_paper or followed[-1] != on_paper[-1]:
        return False
    first, theirs = followed[:-1], on_paper[:-1]
    if all(len(p) == 1 for p in first):
        return [p[0] for p in theirs[: len(first)]] == first
    return first == theirs


def author_key(name: str) -> str:
    """A name folded for exact comparison: 'Bernhard  Schölkopf' → 'bernhard scholkopf'.
    Empty for a "name" without a letter or digit (real records hold ':' where a
    list of names was split badly): no key, so such entries never pool into one author."""
    key = " ".join(_name_parts(name))
    return key if any(c.isalnum() for c in key) else ""


def author_hits(paper: Paper, authors: list[str]) -> list[str]:
    """Followed authors who are on the paper."""
    if not authors:
        return []
    on_paper = [_name_parts(a) for a in paper.authors]
    return [a for a in authors if any(_same_author(_name_parts(a), p) for p in on_paper)]

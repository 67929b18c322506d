"""Names folded for comparison, one rule for every part that asks "is this the same person?"
(followed authors, the lift for authors of 👍'd papers, the quality track record), so a
name typed one way in a config, another on arXiv, means the same author everywhere."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w\s]")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def fold(s: str) -> str:
    """Lower-case, accents removed, so 'Schölkopf' matches 'Scholkopf'."""
    if s.isascii():  # most names and texts: nothing to decompose
        return s.lower()
    s = unicodedata.normalize("NFKD", s)
    # one sigma: lower() writes 'ς' at a word's end only, and PostgreSQL folds character by
    # character (store/fold.py), so 'ΠΑΠΑΔΟΠΟΥΛΟΣ' and 'Παπαδόπουλος' meet only as 'σ'
    return "".join(c for c in s if not unicodedata.combining(c)).lower().replace("ς", "σ")


def name_parts(name: str) -> list[str]:
    """Words of a folded name, punctuation dropped: 'Y. LeCun' → ['y', 'lecun'], and
    "O’Brien" (typographic apostrophe) the same as "O'Brien"."""
    return _NON_WORD.sub(" ", fold(name)).split()


def author_key(name: str) -> str:
    """A name folded for exact comparison: 'Bernhard  Schölkopf' → 'bernhard scholkopf'.
    Empty for a "name" without a letter or digit (real records hold ':' where a list of
    names was split badly): no key, so such entries never pool into one author."""
    key = " ".join(name_parts(name))
    return key if _LETTER_OR_DIGIT.search(key) else ""

"""Followed authors: which people in the store a name may mean, told apart by co-authors."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from papersift.names import fold, name_parts
from papersift.store import Store
from papersift.wording import counted


@dataclass
class Candidate:
    name: str  # as written on arXiv
    papers: int = 0
    coauthors: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        top = ", ".join(n for n, _ in self.coauthors.most_common(3))
        return f"{self.name} ({counted(self.papers, 'paper')}{', with ' + top if top else ''})"


def _needle(name: str) -> str:
    """What to look for in the store's author lists (matched folded, in any case and with or
    without accents): the surname's longest run of plain letters, so 'tri dao', "O’Quill" or
    'Scholkopf' still find 'Tri Dao', "O'Quill" and 'Schölkopf' (the parts above then decide
    who matches)."""
    surname = fold(name.split()[-1])
    return max(re.findall(r"[a-z0-9]+", surname), key=len, default=surname)


def candidates(store: Store, name: str, limit: int = 5) -> list[Candidate]:
    """Names in the store with `name`'s surname and compatible initials, most papers
    first; each with the co-authors that tell people of the same name apart."""
    want = name_parts(name)
    if not want:
        return []
    found: dict[str, Candidate] = {}
    for _, authors in store.papers_by_author(_needle(name)):
        for a in authors:
            theirs = name_parts(a)
            if not theirs or theirs[-1] != want[-1]:
                continue
            if len(want) > 1 and (len(theirs) < 2 or theirs[0][0] != want[0][0]):
                continue
            c = found.setdefault(a, Candidate(a))
            c.papers += 1
            c.coauthors.update(o for o in authors if o != a)
    return sorted(found.values(), key=lambda c: (-c.papers, c.name))[:limit]

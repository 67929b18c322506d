"""The ranker interface and registry: a ranker turns (profile, candidates) into scored picks.

Rankers see plain arrays and records, never the store, so the daily job and the backtest
feed them the same way and a new ranker is a small class plus `@register`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from papersift.errors import PapersiftError
from papersift.records import Paper


@dataclass
class UserProfile:
    """Everything a ranker may know about one user on the day it ranks."""

    user: str
    library: list[Paper]
    library_vecs: np.ndarray  # (n, d), rows aligned with `library`
    labels: np.ndarray  # (n,) +1 liked, -1 explicit negative
    keywords: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    description: str = ""
    description_vec: np.ndarray | None = None  # (d,)


@dataclass
class Candidates:
    papers: list[Paper]
    vecs: np.ndarray  # (m, d), rows aligned with `papers`


@dataclass
class Scored:
    paper_id: str
    score: float
    reason: str


class Ranker(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]

    @abstractmethod
    def rank(self, profile: UserProfile, candidates: Candidates) -> list[Scored]:
        """All candidates, best first, each with a one-line reason."""


RANKERS: dict[str, type[Ranker]] = {}


def register(cls: type[Ranker]) -> type[Ranker]:
    RANKERS[cls.name] = cls
    return cls


def get_ranker(name: str) -> Ranker:
    # Importing the implementations fills the registry.
    from papersift.rank import similarity  # noqa: F401

    if name not in RANKERS:
        raise PapersiftError(f"unknown ranker {name!r}: use one of {', '.join(sorted(RANKERS))} "
                             "(config key digest.ranker)")
    return RANKERS[name]()

"""What every renderer shows: one user's digest for one listing day."""

from __future__ import annotations

from dataclasses import dataclass, field

from papersift.records import Paper


@dataclass
class Entry:
    rank: int
    paper: Paper
    score: float
    reason: str


@dataclass
class Digest:
    user: str
    day: str
    entries: list[Entry] = field(default_factory=list)
    candidates: int = 0  # papers considered that day
    note: str | None = None  # e.g. why the digest is empty

"""What every renderer shows: one user's digest for one listing day (or several, merged)."""

from __future__ import annotations

from dataclasses import dataclass, field

from papersift.records import Paper


@dataclass
class Entry:
    rank: int
    paper: Paper
    score: float
    reason: str
    tldr: str | None = None  # filled by the LLM layer when it runs


@dataclass
class Digest:
    user: str
    day: str  # the (last) listing day
    entries: list[Entry] = field(default_factory=list)
    candidates: int = 0  # papers considered that day
    note: str | None = None  # e.g. why the digest is empty
    since: str | None = None  # first day of a merged (catch-up, weekly) digest

    @property
    def span(self) -> str:
        return f"{self.since} – {self.day}" if self.since and self.since != self.day \
            else self.day

    def fraction(self, entry: Entry) -> float:
        """The entry's score relative to the day's best (score bars: scores are not 0–1)."""
        top = max((e.score for e in self.entries), default=0.0)
        return max(0.0, min(1.0, entry.score / top)) if top > 0 else 0.0

    @property
    def title(self) -> str:
        who = "" if self.user == "default" else f" ({self.user})"
        return f"papersift digest — {self.span}{who}"

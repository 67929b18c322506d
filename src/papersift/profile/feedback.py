"""Feedback on papers: 👍 / 👎 / save / dismiss, from the CLI, the web app or a signed link.

This is the API the web app calls. 👍 and saves put the paper in the library, 👎 makes it an
explicit negative, dismiss only hides it; every rating is logged with its time, and the
latest rating of a paper decides its label (so 👎 after 👍 is a change of mind, not a mix).
"""

from __future__ import annotations

from dataclasses import dataclass

from papersift.errors import PapersiftError, ProfileError
from papersift.records import normalize_id
from papersift.store import Store
from papersift.store.profiles import LABELS
from papersift.tokens import ACTIONS, verify

ALIASES = {"👍": "up", "+1": "up", "like": "up", "👎": "down", "-1": "down",
           "dislike": "down", "keep": "save"}


@dataclass
class Rated:
    user: str
    paper_id: str
    action: str
    in_store: bool  # False: the paper's text is looked up before the next ranking

    @property
    def label(self) -> int | None:
        return LABELS.get(self.action)


def parse_action(raw: str) -> str:
    action = ALIASES.get(raw.strip().lower(), raw.strip().lower())
    if action not in ACTIONS:
        raise ProfileError(f"unknown rating {raw!r}: use one of {', '.join(ACTIONS)}")
    return action


def rate(store: Store, user: str, paper: str, action: str, *, via: str = "cli",
         at: str | None = None) -> Rated:
    """Record one rating; `paper` is an arXiv id or abs/pdf URL."""
    try:
        pid = normalize_id(paper)
    except PapersiftError as e:
        raise ProfileError(str(e)) from None
    action = parse_action(action)
    store.record_feedback(user, pid, action, via, at)
    return Rated(user, pid, action, bool(store.get_papers([pid])))


def rate_token(store: Store, key: bytes, token: str, *, now: float | None = None) -> Rated:
    """Consume a digest link's signed token: it rates only its own user and paper, and only
    until it expires (TokenError otherwise)."""
    fb = verify(key, token, now)
    return rate(store, fb.user, fb.paper_id, fb.action, via="link")

"""arXiv's announcement calendar: listings are dated Monday–Friday, mailed ~20:00 US/Eastern
the evening before (Sunday–Thursday)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
ANNOUNCE_HOUR = 20


def parse_day(s: str) -> str:
    from papersift.errors import PapersiftError

    try:
        return date.fromisoformat(s).isoformat()
    except ValueError:
        raise PapersiftError(f"invalid date {s!r}: use YYYY-MM-DD, e.g. 2025-11-12") from None


def latest_listing_day(now: datetime | None = None) -> str:
    """The listing day most recently announced at `now` (today's digest)."""
    now = (now or datetime.now(EASTERN)).astimezone(EASTERN)
    day = now.date() + timedelta(days=1 if now.hour >= ANNOUNCE_HOUR else 0)
    while day.weekday() >= 5:  # no Saturday/Sunday listings: fall back to Friday's
        day -= timedelta(days=1)
    return day.isoformat()


def no_listing_reason(day: str) -> str | None:
    """Why arXiv has no listing dated `day`, when the calendar alone says so."""
    d = date.fromisoformat(day)
    if d.weekday() >= 5:
        return f"no arXiv announcement on {day} (a {d:%A}): arXiv lists new papers Monday–Friday"
    return None

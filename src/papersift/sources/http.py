"""A polite arXiv HTTP client: paced requests, retries with backoff, one-line errors.

arXiv asks robots for at most one request every 3 seconds, a User-Agent that says who
is calling, and patience when it answers 429/503 (often with Retry-After).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TypeVar

import httpx

from papersift import __version__
from papersift.config import Settings
from papersift.errors import SourceError
from papersift.sources.arxiv_xml import MalformedXML

HOMEPAGE = "https://github.com/papersift/papersift"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

T = TypeVar("T")


def user_agent(contact: str = "") -> str:
    mailto = f"; mailto:{contact}" if contact else ""
    return f"papersift/{__version__} (+{HOMEPAGE}{mailto})"


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _reason(e: Exception) -> str:
    """'[Errno 111] Connection refused' -> 'connection refused'; always one line."""
    lines = str(e).strip().splitlines()
    msg = (re.sub(r"^\[Errno -?\d+\]\s*", "", lines[0]) if lines else "") or type(e).__name__
    return msg[0].lower() + msg[1:]


@dataclass
class _Failure:
    """Why the last try failed: the message to raise if it was the last, and any Retry-After."""

    message: str
    retry_after: float | None = None


class ArxivClient:
    """All requests to arXiv go through one client so that its pacing covers all of them."""

    def __init__(self, *, min_interval: float = 3.0, timeout: float = 30.0, max_retries: int = 5,
                 contact: str = "", offline: bool = False, backoff: float = 2.0,
                 max_wait: float = 120.0) -> None:
        """`backoff`: first wait after a failure (doubled each retry); `max_wait`: cap on
        any single wait, Retry-After included."""
        self.min_interval = min_interval
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.offline = offline
        self.backoff = backoff
        self.max_wait = max_wait
        self.user_agent = user_agent(contact)
        self._http = httpx.Client(timeout=timeout, follow_redirects=True,
                                  headers={"User-Agent": self.user_agent})
        self._lock = threading.Lock()
        self._last_start: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, max_wait: float = 120.0) -> ArxivClient:
        return cls(min_interval=settings["arxiv.min_interval"], timeout=settings["arxiv.timeout"],
                   max_retries=settings["arxiv.max_retries"], contact=settings["arxiv.contact"],
                   offline=settings["arxiv.offline"], backoff=settings["arxiv.backoff"],
                   max_wait=max_wait)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def get(self, url: str, params: Mapping[str, str] | None = None, *,
            parse: Callable[[bytes], T], what: str = "response", hint: str = "rerun later") -> T:
        """GET `url` and return `parse(body)`, retrying what may be transient.

        `parse` raising MalformedXML counts as a transient failure (a cut connection can
        deliver a short body). `what` names the document and `hint` the fix in the error
        raised once the retries are spent.
        """
        if self.offline:
            raise SourceError("arXiv is offline by configuration (arxiv.offline = true): set it "
                              "to false (or PAPERSIFT_ARXIV_OFFLINE=0) to fetch from arXiv")
        tries = self.max_retries + 1
        for attempt in range(tries):
            result = self._try(url, params, parse, tries, what, hint)
            if not isinstance(result, _Failure):
                return result
            if attempt + 1 < tries:
                time.sleep(self._wait(attempt, result.retry_after))
        raise SourceError(result.message)

    def _try(self, url: str, params: Mapping[str, str] | None, parse: Callable[[bytes], T],
             tries: int, what: str, hint: str) -> T | _Failure:
        """One request: the parsed body, or why it failed (non-retryable failures raise)."""
        self._pace()
        try:
            resp = self._http.get(url, params=params)
        except httpx.ConnectError as e:
            return _Failure(f"arXiv unreachable at {url} ({_reason(e)}): check the network "
                            "or set arxiv.offline = true")
        except httpx.TimeoutException:
            return _Failure(f"arXiv did not answer within {self.timeout:g} s at {url} ({tries} "
                            "tries): check the network, raise arxiv.timeout or rerun later")
        except httpx.TransportError as e:
            return _Failure(f"arXiv cut the connection at {url} ({_reason(e)}) {tries} times: "
                            f"{hint}")
        code = resp.status_code
        if code in RETRY_STATUSES:
            wait = retry_after_seconds(resp.headers.get("Retry-After"))
            if code == 429:
                return _Failure(f"arXiv rate-limited us (HTTP 429) {tries} times at {url}: "
                                "wait a few minutes and rerun", wait)
            return _Failure(f"arXiv answered HTTP {code} {tries} times at {url}: arXiv is down "
                            f"or busy; {hint}", wait)
        if code >= 400:
            raise SourceError(f"arXiv answered HTTP {code} at {url}: check the arxiv.rss_url, "
                              "arxiv.oai_url and arxiv.api_url settings")
        try:
            return parse(resp.content)
        except MalformedXML as e:
            return _Failure(f"arXiv returned a truncated/malformed {what} at {url} ({e}): {hint}")

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        """Retry-After when given, else exponential backoff; never more than max_wait."""
        wait = retry_after if retry_after is not None else self.backoff * 2 ** attempt
        return min(wait, self.max_wait)

    def _pace(self) -> None:
        """Keep request starts at least min_interval apart, across every caller of this client."""
        with self._lock:
            now = time.monotonic()
            if self._last_start is not None:
                delay = self._last_start + self.min_interval - now
                if delay > 0:
                    time.sleep(delay)
            self._last_start = time.monotonic()

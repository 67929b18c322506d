"""Accounts, sessions, CSRF tokens and the sign-in rate limit.

Sessions live in the store (`web_sessions`): the cookie carries a random token and the store
its SHA-256, so logout and password changes end sessions for good. Each session has its own
CSRF token, which every state-changing request must echo (form field or X-CSRF-Token).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from papersift.errors import PapersiftError
from papersift.store import Store

SESSION_COOKIE = "papersift_session"
LOGIN_CSRF_COOKIE = "papersift_login"  # double-submit token of the sign-in form
LOGIN_WINDOW = 15 * 60.0
MIN_PASSWORD = 8
_hasher = PasswordHasher()


class AccountError(PapersiftError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: use at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_password(store: Store, user: str, password: str) -> bool:
    account = store.web_user(user)
    if account is None or account.password is None:
        _hasher.hash(password)  # same cost either way: timing tells nobody who exists
        return False
    try:
        return _hasher.verify(account.password, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(store: Store, user: str, password: str) -> None:
    """Create the account or change its password; every open session of it ends."""
    store.save_web_user(user, password=hash_password(password))
    store.end_sessions(user=user)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    lang: str | None = None  # the user's UI language, if chosen
    token: str | None = None  # set only on the request that created it (to send the cookie)


def open_session(store: Store, user: str, days: int) -> Session:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = datetime.now(UTC) + timedelta(days=days)
    store.add_session(token_hash(token), user, csrf, _iso(expires))
    account = store.web_user(user)
    return Session(user, csrf, account.lang if account else None, token)


def find_session(store: Store, token: str | None) -> Session | None:
    if not token:
        return None
    found = store.session(token_hash(token), _iso(datetime.now(UTC)))
    return Session(*found) if found else None


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given), expected)


class LoginLimiter:
    """At most `attempts` failed sign-ins per (address, account) and 4× that per address
    in a sliding window; a success clears the account's count."""

    def __init__(self, attempts: int, window: float = LOGIN_WINDOW) -> None:
        self.attempts = attempts
        self.window = window
        self._fails: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def wait(self, ip: str, user: str, now: float | None = None) -> float:
        """Seconds until another try is allowed (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            waits = []
            for key, cap in (((ip, user), self.attempts), ((ip, ""), 4 * self.attempts)):
                q = self._recent(key, now)
                if len(q) >= cap:
                    waits.append(q[len(q) - cap] + self.window - now)
            return max(waits, default=0.0)

    def failed(self, ip: str, user: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent((ip, user), now).append(now)
            self._recent((ip, ""), now).append(now)

    def succeeded(self, ip: str, user: str) -> None:
        with self._lock:
            self._fails.pop((ip, user), None)

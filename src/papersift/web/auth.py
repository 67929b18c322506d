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
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from papersift.errors import PapersiftError
from papersift.store import Store

SESSION_COOKIE = "papersift_session"
LOGIN_CSRF_COOKIE = "papersift_login"  # double-submit token of the sign-in form
LOGIN_WINDOW = 15 * 60.0
LOGIN_TABLE_SIZE = 100_000  # sign-in records kept at most: bounded memory under abuse
KNOWN_ADDRESS_DAYS = 30  # an account's sign-in address is exempt from its cap this long
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


class _Recent:
    """Timestamps per key, each kept `ttl` seconds, for at most `size` keys. Keys are kept in
    the order they were last added to, so the expired ones are at the front: dropping them
    as new ones come in costs no sweep, and a full table gives up its stalest key first."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl, self.size = ttl, size
        self._t: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._t)

    def get(self, key: tuple[str, ...], now: float) -> deque[float]:
        """The key's timestamps younger than `ttl` (read only: nothing is created)."""
        q = self._t.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.ttl:
            q.popleft()
        if not q:
            del self._t[key]
        return q

    def add(self, key: tuple[str, ...], now: float, keep: int) -> None:
        """Record `now` for `key`, keeping its `keep` latest timestamps."""
        q = self._t.pop(key, None) or deque(maxlen=keep)
        q.append(now)
        self._t[key] = q
        while len(self._t) > self.size or next(iter(self._t.values()))[-1] <= now - self.ttl:
            self._t.popitem(last=False)

    def discard(self, key: tuple[str, ...]) -> None:
        self._t.pop(key, None)


class LoginLimiter:
    """Failed sign-ins in a sliding window: at most `attempts` per (address, account), and
    4× that per address (guessing across accounts) and per account (guessing from many
    addresses); a success clears its (address, account) count.

    Only a failure that was allowed to happen is recorded: a refused try, or asking how long
    to wait, leaves no trace, so a blocked address cannot grow the table by cycling names;
    records expire with the window, and the table is capped. An address the account signed
    in from lately is exempt from the per-account cap, so guessing from elsewhere cannot lock
    its owner out."""

    def __init__(self, attempts: int, window: float = LOGIN_WINDOW,
                 size: int = LOGIN_TABLE_SIZE) -> None:
        self.caps = {"pair": attempts, "address": 4 * attempts, "account": 4 * attempts}
        self.window = window
        self._fails = _Recent(window, size)
        self._known = _Recent(KNOWN_ADDRESS_DAYS * 86400.0, size)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Records held (failures and known addresses): bounded, whatever is tried."""
        with self._lock:
            return len(self._fails) + len(self._known)

    def _limits(self, ip: str, user: str, now: float) -> list[tuple[tuple[str, ...], int]]:
        limits = [(("pair", ip, user), self.caps["pair"]),
                  (("address", ip), self.caps["address"])]
        if not self._known.get((ip, user), now):
            limits.append((("account", user), self.caps["account"]))
        return limits

    def _wait(self, limits: list[tuple[tuple[str, ...], int]], now: float) -> float:
        waits = []
        for key, cap in limits:
            q = self._fails.get(key, now)
            if len(q) >= cap:  # q keeps the `cap` latest: its oldest frees the next try
                waits.append(q[0] + self.window - now)
        return max(waits, default=0.0)

    def wait(self, ip: str, user: str, now: float | None = None) -> float:
        """Seconds until another try is allowed (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._wait(self._limits(ip, user, now), now)

    def failed(self, ip: str, user: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            limits = self._limits(ip, user, now)
            if self._wait(limits, now) > 0:
                return  # refused anyway: recording it would only grow the table
            for key, cap in limits:
                self._fails.add(key, now, keep=cap)

    def succeeded(self, ip: str, user: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._fails.discard(("pair", ip, user))
            self._known.add((ip, user), now, keep=1)

"""Signed, expiring feedback tokens for the 👍/👎 links in delivered digests.

A token names (user, paper, action, expiry) and carries an HMAC-SHA256 over them, so a link
forwarded to someone else rates only what it says, only for its user, and only until it
expires. The key comes from PAPERSIFT_SECRET_KEY or a 0600 file created on first use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from papersift.errors import PapersiftError

ACTIONS = ("up", "down", "save", "dismiss")


class TokenError(PapersiftError):
    """A feedback link that is malformed, forged or expired."""


@dataclass(frozen=True)
class Feedback:
    user: str
    paper_id: str
    action: str
    expires: int


def load_key(secret_file: Path, env: dict[str, str] | None = None) -> bytes:
    """The signing key: the environment's, else the file's (created 0600 if missing)."""
    env = dict(os.environ) if env is None else env
    if env.get("PAPERSIFT_SECRET_KEY"):
        return env["PAPERSIFT_SECRET_KEY"].encode()
    try:
        return secret_file.read_bytes().strip()
    except FileNotFoundError:
        pass
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode()
    # O_EXCL: two processes racing here must not end up signing with different keys.
    try:
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return secret_file.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:16]


def sign(key: bytes, user: str, paper_id: str, action: str, days: int = 14,
         now: float | None = None) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown feedback action {action!r}")
    expires = int((time.time() if now is None else now) + days * 86400)
    payload = "\x1f".join([user, paper_id, action, str(expires)]).encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def verify(key: bytes, token: str, now: float | None = None) -> Feedback:
    """The feedback a token stands for; TokenError if it is malformed, forged or expired."""
    try:
        body, mac = token.split(".")
        payload, given = _unb64(body), _unb64(mac)
        user, paper_id, action, expires = payload.decode().split("\x1f")
        feedback = Feedback(user, paper_id, action, int(expires))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("feedback link is malformed: copy the whole link from the digest") \
            from None
    if not hmac.compare_digest(given, _mac(key, payload)) or action not in ACTIONS:
        raise TokenError("feedback link has a bad signature: use the link from the digest")
    if feedback.expires < (time.time() if now is None else now):
        raise TokenError("feedback link has expired: rate the paper in the web app instead")
    return feedback


def feedback_url(base_url: str, key: bytes, user: str, paper_id: str, action: str,
                 days: int = 14) -> str:
    """The link a digest puts beside a paper; the web app's /feedback endpoint consumes it."""
    token = sign(key, user, paper_id, action, days)
    return f"{base_url.rstrip('/')}/feedback?{urlencode({'t': token})}"

"""Abuse of the web app: password guessing across accounts and across addresses (and the
memory the sign-in limit takes meanwhile), forged/tampered/expired/foreign feedback links,
other users' ratings through the API, and state changes without the CSRF token on the
endpoints tests/test_web_app.py does not cover."""

from __future__ import annotations

import base64
import time

from fastapi.testclient import TestClient

from papersift.tokens import feedback_url, load_key, sign
from papersift.web.auth import LOGIN_WINDOW, LoginLimiter
from tests.arxiv_server import DAY1
from tests.test_web_app import csrf_of, sign_in
from tests.web_fixtures import ANN, BOB, PASSWORDS, XSS, Web

ATTEMPTS = 5  # web.login_attempts' default per (address, account); 4 × 5 per address or account


def client_at(web: Web, address: str) -> TestClient:
    """A browser at `address` (the sign-in limit counts by the client's address)."""
    return TestClient(web.app, base_url="http://127.0.0.1", client=(address, 50000))


def test_guessing_across_many_accounts_is_throttled_per_address(web_accounts: Web) -> None:
    guesser = web_accounts.client()
    for i in range(4 * ATTEMPTS):  # one wrong password for each of 20 names
        assert sign_in(guesser, f"user{i}", "password123") == 401
    assert sign_in(guesser, f"user{4 * ATTEMPTS}", "password123") == 429
    # the right password of a real account waits too, from a fresh client (no cookies)
    fresh = web_accounts.client()
    assert sign_in(fresh, ANN, PASSWORDS[ANN]) == 429
    assert fresh.get("/api/me").status_code == 401
    assert "Too many failed sign-ins" in fresh.post(
        "/login", data={"user": BOB, "password": PASSWORDS[BOB],
                        "csrf": fresh.cookies.get("papersift_login")}).text


def test_a_success_resets_only_its_own_accounts_count(web_accounts: Web) -> None:
    c = web_accounts.client()
    for _ in range(ATTEMPTS - 1):
        assert sign_in(c, BOB, "wrong-password") == 401
    assert sign_in(c, BOB, PASSWORDS[BOB]) == 303
    c = web_accounts.client()  # the same address, signed out
    for _ in range(ATTEMPTS - 1):  # counted afresh: still allowed to try
        assert sign_in(c, BOB, "wrong-password") == 401
    assert sign_in(c, BOB, "wrong-password") == 401
    assert sign_in(c, BOB, PASSWORDS[BOB]) == 429


def test_guessing_one_account_from_many_addresses_is_throttled_per_account(
        web_accounts: Web) -> None:
    owner = client_at(web_accounts, "198.51.100.7")  # Bob, signed in before the attack
    assert sign_in(owner, BOB, PASSWORDS[BOB]) == 303
    for i in range(4 * ATTEMPTS):  # one wrong password from each of 20 addresses
        assert sign_in(client_at(web_accounts, f"203.0.113.{i}"), BOB, "password123") == 401
    assert sign_in(client_at(web_accounts, "203.0.113.200"), BOB, "password123") == 429
    # the right password from yet another address waits too: it may be the attacker's
    assert sign_in(client_at(web_accounts, "203.0.113.201"), BOB, PASSWORDS[BOB]) == 429
    # nobody else is held up: Ann at a new address, and Bob where he signed in before
    assert sign_in(client_at(web_accounts, "192.0.2.10"), ANN, PASSWORDS[ANN]) == 303
    assert sign_in(client_at(web_accounts, "198.51.100.7"), BOB, PASSWORDS[BOB]) == 303


def test_a_blocked_address_cycling_names_adds_nothing_to_the_limiters_table() -> None:
    limiter, now = LoginLimiter(ATTEMPTS), 1000.0
    for i in range(200_000):  # what the sign-in page does: ask, and record a failed try
        if limiter.wait("203.0.113.9", f"name{i}", now) == 0:
            limiter.failed("203.0.113.9", f"name{i}", now)
    # 20 tries got through: (address, name) and name for each, and the address
    assert len(limiter) == 2 * 4 * ATTEMPTS + 1
    limiter.failed("203.0.113.9", "one-more", now)  # refused already: not recorded either
    assert len(limiter) == 2 * 4 * ATTEMPTS + 1
    # once the window has passed the address may try again, and the old records are gone
    later = now + LOGIN_WINDOW + 1
    assert limiter.wait("203.0.113.9", "name0", later) == 0
    limiter.failed("192.0.2.1", "ann", later)
    assert len(limiter) == 3


def test_the_limiters_table_is_capped_under_guessing_from_many_addresses() -> None:
    limiter = LoginLimiter(ATTEMPTS, size=1000)
    for i in range(20_000):  # a botnet: every try from a new address, at a new name
        limiter.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", f"name{i}", 1000.0)
    assert len(limiter) == 1000
    # the oldest records made room: the latest guess still counts towards its limit
    for _ in range(ATTEMPTS - 1):
        limiter.failed("10.0.78.31", "name19999", 1000.0)
    assert limiter.wait("10.0.78.31", "name19999", 1000.0) > 0


def _open(web: Web, token: str, client: TestClient | None = None) -> tuple[int, str]:
    r = (client or web.client()).get("/feedback", params={"t": token})
    return r.status_code, r.text


def test_tampered_foreign_and_expired_feedback_links_rate_nothing(web_accounts: Web) -> None:
    key = load_key(web_accounts.settings.secret_file)
    pid = XSS[0].id
    token = sign(key, BOB, pid, "up")
    body, mac = token.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    as_ann = base64.urlsafe_b64encode(payload.replace(BOB.encode(), ANN.encode()))
    down = base64.urlsafe_b64encode(payload.replace(b"\x1fup\x1f", b"\x1fdown\x1f"))
    cases = {
        "another user, same signature": (f"{as_ann.decode().rstrip('=')}.{mac}", "bad signature"),
        "another action, same signature": (f"{down.decode().rstrip('=')}.{mac}", "bad signature"),
        "another server's key": (sign(b"not-this-servers-key", BOB, pid, "up"), "bad signature"),
        "expired": (sign(key, BOB, pid, "up", days=14, now=time.time() - 15 * 86400),
                    "expired"),
        "cut short": (token[: len(token) // 2], "malformed"),
        "empty": ("", "malformed"),
    }
    for name, (forged, why) in cases.items():
        status, text = _open(web_accounts, forged)
        assert status == 400 and why in text, (name, status, text[:300])
    assert web_accounts.store.feedback(ANN) == [] and web_accounts.store.feedback(BOB) == []


def test_a_link_rates_its_own_user_whoever_is_signed_in(web_accounts: Web) -> None:
    key = load_key(web_accounts.settings.secret_file)
    ann = web_accounts.client()
    assert sign_in(ann, ANN, PASSWORDS[ANN]) == 303
    url = feedback_url("http://127.0.0.1", key, BOB, XSS[1].id, "down")
    status, _ = _open(web_accounts, url.split("t=", 1)[1].replace("%3D", "="), ann)
    assert status == 200
    assert [(f.paper_id, f.action) for f in web_accounts.store.feedback(BOB)] == \
        [(XSS[1].id, "down")]
    assert web_accounts.store.feedback(ANN) == []  # Ann's session gave it no power over Ann


def test_nobody_sees_another_users_ratings_through_the_api(web_accounts: Web) -> None:
    ann, bob = web_accounts.client(), web_accounts.client()
    assert sign_in(ann, ANN, PASSWORDS[ANN]) == 303
    assert sign_in(bob, BOB, PASSWORDS[BOB]) == 303
    pid = XSS[2].id  # in Ann's digest
    r = bob.post("/api/rate", json={"paper": pid, "action": "down"},
                 headers={"X-CSRF-Token": csrf_of(bob)})
    assert r.status_code == 200 and bob.get(f"/api/papers/{pid}").json()["rating"] == "down"
    assert ann.get(f"/api/papers/{pid}").json()["rating"] is None
    card = [c for c in ann.get(f"/api/digest/{DAY1}").json()["entries"] if c["id"] == pid]
    assert card and card[0]["rating"] is None
    assert ann.get("/api/profile").json()["feedback"] == []
    assert [f["paper_id"] for f in bob.get("/api/profile").json()["feedback"]] == [pid]
    # and a user name in the request is not a way in: the session decides
    r = ann.post("/api/rate", json={"paper": pid, "action": "up", "user": BOB},
                 headers={"X-CSRF-Token": csrf_of(ann)})
    assert r.status_code in (200, 422)
    assert [f.action for f in web_accounts.store.feedback(BOB)] == ["down"]


def test_account_and_profile_changes_need_this_sessions_csrf_token(web_accounts: Web) -> None:
    ann, bob = web_accounts.client(), web_accounts.client()
    assert sign_in(ann, ANN, PASSWORDS[ANN]) == 303
    assert sign_in(bob, BOB, PASSWORDS[BOB]) == 303
    sources = web_accounts.store.sources(ANN)
    bib = b"@misc{k, title={T}, eprint={2412.99001}, archivePrefix={arXiv}}\n"
    for token in (None, "forged", csrf_of(bob)):  # none, made up, another session's
        extra = {"csrf": token} if token else {}
        posts = [
            ann.post("/account/password", data={"current": PASSWORDS[ANN],
                                                "new": "taken-over-1", **extra}),
            ann.post("/profile/upload", data=extra, files={"file": ("x.bib", bib)}),
            ann.post("/profile/remove", data={"source": "config", **extra}),
            ann.post("/profile/zotero", data={"library": "zotero://user/1", **extra}),
            ann.post("/logout", data=extra),
        ]
        assert [r.status_code for r in posts] == [403] * len(posts), token
    assert web_accounts.store.sources(ANN) == sources
    assert ann.get("/api/me").json()["user"] == ANN  # still signed in
    assert sign_in(web_accounts.client(), ANN, PASSWORDS[ANN]) == 303  # password unchanged

"""Single-user mode trusts whoever reaches it, so a page that reaches it under another name
(DNS rebinding: attacker.example resolving to 127.0.0.1) or posts to it from another site
must get nothing: no session, no CSRF token, no change."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web_fixtures import ANN, Web


def test_a_foreign_host_gets_no_session_and_changes_nothing(web_single: Web) -> None:
    rebound = TestClient(web_single.app, base_url="http://attacker.example:8765")
    r = rebound.get("/api/me")
    assert r.status_code == 400 and "DNS rebinding" in r.text
    assert "set-cookie" not in r.headers
    r = rebound.post("/profile/terms", data={"kind": "mute", "value": "cs.LG", "csrf": "x"})
    assert r.status_code == 400
    assert web_single.store.terms(ANN, "mute") == []


def test_a_post_from_another_site_is_refused_even_on_loopback(web_single: Web) -> None:
    c = web_single.client()
    token = c.get("/api/me").json()["csrf"]  # even a leaked token does not help
    r = c.post("/profile/terms", data={"kind": "mute", "value": "cs.LG", "csrf": token},
               headers={"origin": "http://attacker.example"})
    assert r.status_code == 400
    assert web_single.store.terms(ANN, "mute") == []


def test_the_user_reaches_it_by_every_loopback_name(web_single: Web) -> None:
    for base in ("http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765"):
        c = TestClient(web_single.app, base_url=base)
        assert c.get("/api/me").json()["user"] == ANN, base
        token = c.get("/api/me").json()["csrf"]
        r = c.post("/profile/terms", data={"kind": "keyword", "value": "rebinding", "csrf": token},
                   headers={"origin": base}, follow_redirects=False)
        assert r.status_code == 303, base
    assert web_single.store.terms(ANN, "keyword") == ["rebinding"]


def test_accounts_mode_is_reached_by_its_public_name(web_accounts: Web) -> None:
    # behind a reverse proxy the Host is the lab's own name; sign-in guards that mode
    c = TestClient(web_accounts.app, base_url="https://papers.lab.example")
    assert c.get("/api/me").status_code == 401

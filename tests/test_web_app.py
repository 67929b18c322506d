"""The web app through HTTP (in process): sign-in, CSRF, per-user isolation, the digest's
feedback links, search, profile edits, languages and pictures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from papersift.jobs import daily
from papersift.rank.embed import MiniLM
from papersift.records import Paper
from papersift.store.web import fts_query
from papersift.tokens import feedback_url, load_key
from tests.arxiv_server import DAY1, DAY2
from tests.pg import both_stores, store_like
from tests.web_fixtures import ANN, BOB, PASSWORDS, XSS, Web, make_web


def sign_in(client: TestClient, user: str, password: str) -> int:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"user": user, "password": password, "csrf": csrf,
                                    "next": "/profile"}, follow_redirects=False)
    return r.status_code


def csrf_of(client: TestClient) -> str:
    return client.get("/api/me").json()["csrf"]


def test_accounts_mode_requires_sign_in_and_logout_ends_the_session(web_accounts: Web) -> None:
    c = web_accounts.client()
    assert c.get(f"/digest/{DAY1}", follow_redirects=False).headers["location"] \
        == f"/login?next=/digest/{DAY1}"
    assert c.get("/api/days").status_code == 401
    assert sign_in(c, ANN, "wrong-password") == 401
    assert sign_in(c, ANN, PASSWORDS[ANN]) == 303
    cookie = c.cookies.get("papersift_session")
    assert c.get("/api/me").json()["user"] == ANN
    r = c.post("/logout", data={"csrf": csrf_of(c)}, follow_redirects=False)
    assert r.headers["location"] == "/login"
    # the old cookie is dead on the server, not just deleted in the browser
    stale = web_accounts.client()
    stale.cookies.set("papersift_session", cookie)
    assert stale.get("/api/me").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "/\t/evil.example", "/\\evil.example",
                                    "https://evil.example/"])
def test_sign_in_never_redirects_to_another_site(web_accounts: Web, target: str) -> None:
    c = web_accounts.client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"user": ANN, "password": PASSWORDS[ANN], "csrf": csrf,
                               "next": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_session_cookie_is_http_only_and_secure_behind_https(
        web_accounts: Web, tmp_path: Path, web_store_file: Path, embedder: MiniLM) -> None:
    def cookie_of(c: TestClient) -> str:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
        r = c.post("/login", data={"user": BOB, "password": PASSWORDS[BOB], "csrf": csrf},
                   follow_redirects=False)
        return r.headers["set-cookie"].lower()

    plain = cookie_of(web_accounts.client())
    assert "httponly" in plain and "samesite=lax" in plain and "secure" not in plain
    folder = tmp_path / "https"
    folder.mkdir()
    https = make_web(folder, store_like(web_store_file, folder), embedder, accounts=True,
                     extra='base_url = "https://papers.example.org"\n')
    assert "; secure" in cookie_of(TestClient(https.app, base_url="https://127.0.0.1"))
    https.store.close()
    # a login form posted without its own token (cross-site) is refused
    other = web_accounts.client()
    assert other.post("/login", data={"user": BOB, "password": PASSWORDS[BOB],
                                      "csrf": "forged"}).status_code == 403


def test_sign_in_is_rate_limited_per_account(web_accounts: Web) -> None:
    c = web_accounts.client()
    for _ in range(5):
        assert sign_in(c, BOB, "not-his-password") == 401
    # now even the right password waits: guessing cannot continue at full speed
    assert sign_in(c, BOB, PASSWORDS[BOB]) == 429
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"user": BOB, "password": PASSWORDS[BOB], "csrf": csrf})
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 15 * 60 + 1
    assert sign_in(c, ANN, PASSWORDS[ANN]) == 303  # another account is not locked out


@both_stores
def test_a_password_change_ends_the_other_sessions_and_the_old_password(
        web_accounts: Web) -> None:
    here, there = web_accounts.client(), web_accounts.client()
    assert sign_in(here, ANN, PASSWORDS[ANN]) == 303
    assert sign_in(there, ANN, PASSWORDS[ANN]) == 303
    new = "ann-new-secret-3"
    r = here.post("/account/password", data={"current": PASSWORDS[ANN], "new": new,
                                             "csrf": csrf_of(here)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account?done=1"
    assert "Password changed: other sessions were signed out." in here.get(
        "/account?done=1").text  # this browser got a fresh session...
    assert there.get("/api/me").status_code == 401  # ...the other one is signed out
    assert there.get(f"/digest/{DAY1}", follow_redirects=False).headers["location"] \
        .startswith("/login")
    assert sign_in(web_accounts.client(), ANN, PASSWORDS[ANN]) == 401
    assert sign_in(web_accounts.client(), ANN, new) == 303


def test_the_current_password_check_is_rate_limited_like_sign_in(web_accounts: Web) -> None:
    c = web_accounts.client()
    assert sign_in(c, BOB, PASSWORDS[BOB]) == 303
    token = csrf_of(c)
    for _ in range(5):
        r = c.post("/account/password", data={"current": "a-guess-123", "new": "taken-over-1",
                                              "csrf": token})
        assert r.status_code == 400 and "The current password is wrong." in r.text
    # now even the right password waits: a stolen session cannot guess at full speed
    r = c.post("/account/password", data={"current": PASSWORDS[BOB], "new": "taken-over-1",
                                          "csrf": token})
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 15 * 60 + 1
    assert "Too many failed sign-ins" in r.text
    assert c.get("/api/me").json()["user"] == BOB  # nothing changed: the session lives on
    assert sign_in(web_accounts.client(), BOB, "taken-over-1") == 429  # the same limiter
    assert sign_in(web_accounts.client(), ANN, PASSWORDS[ANN]) == 303  # Ann is not locked out


@both_stores
def test_users_never_read_or_rate_as_each_other(web_accounts: Web) -> None:
    ann, bob = web_accounts.client(), web_accounts.client()
    assert sign_in(ann, ANN, PASSWORDS[ANN]) == 303
    assert sign_in(bob, BOB, PASSWORDS[BOB]) == 303
    ann_ids = [e["id"] for e in ann.get(f"/api/digest/{DAY1}").json()["entries"]]
    bob_ids = [e["id"] for e in bob.get(f"/api/digest/{DAY1}").json()["entries"]]
    assert ann_ids and bob_ids and not set(ann_ids) & set(bob_ids)
    assert not set(bob_ids) & set(re.findall(r'/paper/([\w.]+)"', ann.get(
        f"/digest/{DAY1}").text))
    # Bob rating with his own session and token rates for Bob only...
    target = ann_ids[3]
    r = bob.post("/api/rate", json={"paper": target, "action": "down"},
                 headers={"X-CSRF-Token": csrf_of(bob)})
    assert r.json()["user"] == BOB
    assert [f.paper_id for f in web_accounts.store.feedback(ANN)] == []
    # ...and Ann's CSRF token does not work in Bob's session (nor without one)
    r = bob.post("/rate", data={"paper": target, "action": "up", "csrf": csrf_of(ann)})
    assert r.status_code == 403
    assert web_accounts.client().post("/api/rate", json={"paper": target, "action": "up"}
                                      ).status_code == 401
    assert [f.action for f in web_accounts.store.feedback(BOB)] == ["down"]
    # Bob's profile page shows Bob's rating, Ann's shows none
    assert target in bob.get("/profile").text and target not in ann.get("/profile").text


def test_state_changes_need_the_csrf_token(web_single: Web) -> None:
    c = web_single.client()
    pid = XSS[2].id
    for path, data in (("/rate", {"paper": pid, "action": "up"}),
                       ("/profile/terms", {"kind": "keyword", "value": "x"}),
                       ("/lang", {"lang": "zh"}), ("/logout", {})):
        assert c.post(path, data=data).status_code == 403, path
        assert c.post(path, data={**data, "csrf": "nope"}).status_code == 403, path
    assert c.post("/api/rate", json={"paper": pid, "action": "up"}).status_code == 403
    assert web_single.store.feedback(ANN) == []
    assert web_single.store.terms(ANN, "keyword") == []


@both_stores
def test_single_user_mode_needs_no_login_and_rating_changes_the_profile(web_single: Web) -> None:
    c = web_single.client()
    page = c.get("/", follow_redirects=True)
    assert page.url.path == f"/digest/{DAY1}"
    assert "Attention tricks" in page.text and "close to test paper 0" in page.text
    before = len(web_single.store.library(ANN))
    pid = web_single.store.digest(ANN, DAY1)[4].paper_id
    r = c.post("/rate", data={"paper": pid, "action": "up", "csrf": csrf_of(c),
                              "next": f"/digest/{DAY1}"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/digest/{DAY1}"
    assert len(web_single.store.library(ANN)) == before + 1
    # the page viewed before the rating is not sent again: it shows the choice
    assert re.search(r'rate-up chosen" title="Like" aria-pressed="true"',
                     c.get(f"/digest/{DAY1}").text)
    profile = c.get("/profile").text
    assert re.search(r'id="liked-count">(\d+)<', profile).group(1) == str(before + 1)
    assert pid in profile  # in the feedback history
    # the buttons' script posts to the API: its answer says what the card shows, in the
    # user's language, and the page shows the same after a reload
    r = c.post("/api/rate", json={"paper": pid, "action": "save"},
               headers={"X-CSRF-Token": csrf_of(c), "Accept-Language": "zh-CN"})
    assert r.json() == {"user": ANN, "paper_id": pid, "action": "save", "label": 1,
                        "in_store": True, "said": "你的评价: 已收藏"}
    page = c.get(f"/digest/{DAY1}", headers={"Accept-Language": "zh-CN"}).text
    assert re.search(r'rate-save chosen" title="收藏" aria-pressed="true"', page)
    assert "你的评价: 已收藏" in page


def test_a_digest_link_rates_its_own_user_and_shows_a_confirmation(web_accounts: Web) -> None:
    key = load_key(web_accounts.settings.secret_file)
    url = feedback_url("http://127.0.0.1", key, BOB, XSS[0].id, "up")
    page = web_accounts.client().get(url.removeprefix("http://127.0.0.1"))  # no sign-in
    assert page.status_code == 200 and "Thanks" in page.text
    assert "&lt;script&gt;" in page.text  # the title is text
    assert [(f.paper_id, f.action, f.via) for f in web_accounts.store.feedback(BOB)] == \
        [(XSS[0].id, "up", "link")]
    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    r = web_accounts.client().get(forged.removeprefix("http://127.0.0.1"))
    assert r.status_code == 400 and "bad signature" in r.text


@both_stores
def test_keyword_and_semantic_search_with_filters(web_single: Web) -> None:
    c = web_single.client()
    hits = c.get("/api/search", params={"q": "language models"}).json()
    assert hits and all("language" in (h["title"] + h["abstract"]).lower() for h in hits[:5])
    narrowed = c.get("/api/search", params={"q": "language models", "category": "cs.IR"}).json()
    assert narrowed and all("cs.IR" in h["categories"] for h in narrowed)
    assert len(narrowed) < len(hits)
    assert c.get("/api/search", params={"q": "language", "since": "2030-01-01"}).json() == []
    # user input is never FTS5 syntax
    for q in ['"', "AND OR NOT", "title:x", "a*b(", "NEAR(x y)"]:
        assert c.get("/api/search", params={"q": q}).status_code == 200
    assert fts_query('say "hi" AND') == '"say" "hi" "AND"*'
    semantic = c.get("/api/search", params={"q": "recommender systems for online shopping",
                                            "mode": "semantic", "limit": 5}).json()
    assert len(semantic) == 5  # no keyword needed: meaning is enough
    assert sum(any(w in (s["title"] + s["abstract"]).lower() for w in
                   ("recommend", "e-commerce", "product", "user")) for s in semantic) >= 3
    assert "No results" in c.get("/search", params={"q": "zzqqxxnotaword"}).text


def test_a_pasted_id_or_link_finds_that_paper(web_single: Web) -> None:
    c = web_single.client()
    pid = web_single.store.digest(ANN, DAY1)[0].paper_id
    for q in (pid, f"https://arxiv.org/abs/{pid}v2", f"https://huggingface.co/papers/{pid}"):
        for mode in ("keyword", "semantic"):
            hits = c.get("/api/search", params={"q": q, "mode": mode}).json()
            assert [h["id"] for h in hits] == [pid], (q, mode)
    assert "No results" in c.get("/search", params={"q": "2401.99999"}).text


def test_paper_page_explains_and_finds_similar_papers(web_single: Web) -> None:
    c = web_single.client()
    entry = web_single.store.digest(ANN, DAY1)[3]
    page = c.get(f"/paper/{entry.paper_id}").text
    assert entry.reason in page and "Similar papers" in page
    data = c.get(f"/api/papers/{entry.paper_id}").json()
    assert len(data["similar"]) == 8 and entry.paper_id not in [s["id"] for s in data["similar"]]
    assert data["library_near"] and data["picks"][0]["day"] == DAY1
    assert c.get("/paper/9999.99999").status_code == 404
    more = c.get(f"/api/digest/{DAY1}", params={"more": True}).json()["more"]
    assert more and more[0]["reason"].startswith("close to")


def _left_out(web: Web, day: str) -> list[str]:
    """The day's papers that are in none of Ann's digests nor her library."""
    taken = {e.paper_id for e in web.store.digest(ANN, day) or []} | {
        e.paper_id for e in web.store.library(ANN)}
    return [p.id for p in web.store.listing(day) if p.id not in taken]


def test_a_paper_below_the_digest_shows_its_rank_score_and_the_size_it_missed(
        web_single: Web) -> None:
    c = web_single.client()
    rest = _left_out(web_single, DAY1)
    candidates = len(rest) + len(web_single.store.digest(ANN, DAY1))  # the picks compete too
    seen = {}
    for pid in rest[:6]:
        data = c.get(f"/api/papers/{pid}").json()
        assert data["picks"] == [] and data["why_not"][0]["code"] == "ranked"
        ranked = data["why_not"][0]
        assert ranked["day"] == DAY1 and ranked["candidates"] == candidates
        # DAY1 has no earlier papers to calibrate against: only digest.size cuts
        limit = data["why_not"][1]
        assert limit["code"] == ("below_size" if ranked["rank"] > 20 else "would_pick")
        assert limit["place"] == ranked["rank"]
        assert data["why_not"][2]["code"] == "reason" and "close to" in data["why_not"][2]["text"]
        seen[pid] = ranked
    assert len({r["rank"] for r in seen.values()}) == len(seen)  # one ranking of the day
    scores = [r["score"] for r in sorted(seen.values(), key=lambda r: r["rank"])]
    assert scores == sorted(scores, reverse=True)
    pid, low = max(seen.items(), key=lambda kv: kv[1]["rank"])
    assert low["rank"] > 20
    page = c.get(f"/paper/{pid}").text
    assert "Why it was not recommended" in page
    assert (f"against the {candidates} candidates of {DAY1}: {low['score']:.2f}, "
            f"#{low['rank']} of {candidates}.") in page
    assert f"It came #{low['rank']} of the papers your threshold lets through, and the " \
        "digest keeps at most 20 (digest.size)." in page
    zh = c.get(f"/paper/{pid}", headers={"Accept-Language": "zh"}).text
    assert f"在 {candidates} 篇中排第 {low['rank']} 位" in zh


def test_a_paper_under_the_threshold_says_how_far_under(tmp_path: Path, web_store_file: Path,
                                                         embedder: MiniLM) -> None:
    # DAY2's background is DAY1, so scores are calibrated; cs.IR keeps the day small
    web = make_web(tmp_path, store_like(web_store_file, tmp_path), embedder, accounts=True,
                   categories=("cs.IR",))
    daily(web.settings, DAY2, user=BOB, embedder=embedder, send=False)
    picked = {e.paper_id for e in web.store.digest(BOB, DAY2)}
    ir = [p.id for p in web.store.listing(DAY2) if "cs.IR" in p.categories]
    c = web.client()
    assert sign_in(c, BOB, PASSWORDS[BOB]) == 303
    why = {pid: {m["code"]: m for m in c.get(f"/api/papers/{pid}").json()["why_not"]}
           for pid in ir if pid not in picked}
    ranks = [w["ranked"]["rank"] for w in why.values()]
    assert all(w["ranked"]["candidates"] == len(ir) for w in why.values())
    assert len(set(ranks)) == len(ranks) and set(ranks) <= set(range(1, len(ir) + 1))
    # ranked as the daily job ranked them: nothing left out claims it would have made it
    assert all("below_level" in w or "below_size" in w for w in why.values())
    pid = max(why, key=lambda k: why[k]["ranked"]["rank"])
    under = why[pid]["below_level"]
    assert under["min_level"] == 0.9 and 0 <= under["level"] < 0.9
    page = c.get(f"/paper/{pid}").text
    assert f"It beats {under['level']:.0%} of recent papers, below your threshold " \
        "(digest.min_level = 0.9: better than 90% of them)." in page
    web.store.close()


def test_a_muted_or_rated_paper_names_the_cause(web_single: Web) -> None:
    c = web_single.client()
    pid = _left_out(web_single, DAY1)[0]
    title = web_single.store.get_papers([pid])[pid].title
    term = max(re.findall(r"[A-Za-z]{5,}", title), key=len).lower()
    c.post("/profile/terms", data={"kind": "mute", "value": term, "csrf": csrf_of(c)})
    page = c.get(f"/paper/{pid}").text
    assert f"Your muted topic “{term}” hits it." in page
    assert "Scored with" not in page  # the mute decides: the ranker's score is beside the point
    zh = c.get(f"/paper/{pid}", headers={"Accept-Language": "zh-CN"}).text
    assert f"它命中了你屏蔽的主题“{term}”。" in zh
    assert c.get(f"/api/papers/{pid}").json()["why_not"] == [
        {"code": "muted", "term": term, "text": f"Your muted topic “{term}” hits it."}]
    other = next(q for q in _left_out(web_single, DAY1)[1:]
                 if term not in web_single.store.get_papers([q])[q].text.lower())
    c.post("/rate", data={"paper": other, "action": "dismiss", "csrf": csrf_of(c)})
    assert "You dismissed it: papers you rated are never recommended again." in c.get(
        f"/paper/{other}").text


def test_papers_outside_the_categories_or_the_digest_days_say_so(web_single: Web) -> None:
    vision = Paper("2412.99101", "Seeing further", "Pixels.", ["Vi Sion"], ["cs.CV"],
                   announced=DAY1)
    unlisted = Paper("2411.99102", "Looked up by id", "Text.", ["Ann Example"], ["cs.CL"],
                     announced="2024-11-20")
    early = Paper("2412.99103", "Listed too early", "Text.", ["Ann Example"], ["cs.CL"],
                  announced="2024-12-17")
    with web_single.store.begin() as conn:
        web_single.store.upsert_papers(conn, [vision, unlisted, early])
        web_single.store.add_listings(conn, DAY1, [(vision.id, "new")])
        web_single.store.add_listings(conn, "2024-12-17", [(early.id, "new")])
    c = web_single.client()
    page = c.get(f"/paper/{vision.id}").text
    assert "Its categories (cs.CV) are outside those papersift reads (arxiv.categories: " \
        "cs.CL, cs.LG, cs.AI)." in page
    assert "Scored with" not in page and "listed on" not in page  # DAY1 had a digest
    assert [m["code"] for m in c.get(f"/api/papers/{vision.id}").json()["why_not"]] == \
        ["categories"]
    assert "It is in no daily listing in the store" in c.get(f"/paper/{unlisted.id}").text
    assert f"It was listed on 2024-12-17, before your first digest ({DAY1})." in c.get(
        f"/paper/{early.id}").text
    later = _left_out(web_single, DAY2)[0]
    assert f"It was listed on {DAY2}, after your latest digest ({DAY1})." in c.get(
        f"/paper/{later}").text


def test_arxiv_ids_typed_on_the_profile_page_join_the_library(web_single: Web) -> None:
    c = web_single.client()
    token = csrf_of(c)
    first, second = [p.id for p in web_single.store.listing(DAY1)][110:112]
    typed = f"{first}, https://arxiv.org/abs/{second}v2"
    r = c.post("/profile/ids", data={"ids": typed, "csrf": token}, follow_redirects=True)
    assert r.status_code == 200 and "+2 new" in r.text
    r = c.post("/profile/ids", data={"ids": typed, "csrf": token}, follow_redirects=True)
    assert "+0 new" in r.text  # typed again: nothing duplicated
    held = [e.paper_id for e in web_single.store.library(ANN)]
    assert held.count(first) == 1 and held.count(second) == 1
    bad = c.post("/profile/ids", data={"ids": f"{first} not-an-id", "csrf": token})
    assert bad.status_code == 400 and "not-an-id" in bad.text
    for empty in ({}, {"ids": " ,, "}):  # nothing typed: the same one-line error
        r = c.post("/profile/ids", data={**empty, "csrf": token})
        assert r.status_code == 400 and "no arXiv id given" in r.text
    assert [e.paper_id for e in web_single.store.library(ANN)] == held


def test_profile_edits_upload_and_remove(web_single: Web) -> None:
    c = web_single.client()
    token = csrf_of(c)
    c.post("/profile/terms", data={"kind": "author", "value": "Tri Dao", "csrf": token})
    c.post("/profile/terms", data={"kind": "mute", "value": "cs.CV", "csrf": token})
    assert web_single.store.terms(ANN, "author") == ["Tri Dao"]
    listing = [p.id for p in web_single.store.listing(DAY1)][100:103]
    bib = "".join(f"@misc{{k{i}, title={{T}}, eprint={{{pid}}}, archivePrefix={{arXiv}}}}\n"
                  for i, pid in enumerate(listing))
    r = c.post("/profile/upload", data={"csrf": token},
               files={"file": ("my lib.bib", bib.encode(), "application/x-bibtex")},
               follow_redirects=True)
    assert "3 entries → 3 papers (+3 new" in r.text
    # uploading it again re-syncs the same source: nothing duplicated
    c.post("/profile/upload", data={"csrf": token},
           files={"file": ("my lib.bib", bib.encode(), "application/x-bibtex")})
    bibs = [s for s in web_single.store.sources(ANN) if s.kind == "bibtex"]
    assert len(bibs) == 1 and bibs[0].items == 3
    bad = c.post("/profile/upload", data={"csrf": token},
                 files={"file": ("evil.sh", b"rm -rf /", "text/plain")})
    assert bad.status_code == 400 and "upload a .bib, .ris or .txt" in bad.text
    c.post("/profile/remove", data={"source": bibs[0].source, "csrf": token})
    assert not [s for s in web_single.store.sources(ANN) if s.kind == "bibtex"]


@pytest.mark.parametrize(("header", "lang"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("zh;q=0.1, en;q=0.9", "en"),
    ("fr-FR, zh-TW;q=0.5", "zh"), ("en-GB;q=0.7, zh;q=0.7", "en"), ("zh;q=0, en", "en"),
    ("zh;q=0", "en"), ("zh;q=abc, en;q=0.2", "en"), ("", "en"), (None, "en")])
def test_the_browsers_preferred_language_wins_by_its_weights(header: str | None,
                                                             lang: str) -> None:
    from papersift.web.i18n import pick_lang

    assert pick_lang(None, header) == lang
    assert pick_lang("zh", header) == "zh"  # the user's own choice comes first


def test_language_follows_the_browser_then_the_users_choice(web_single: Web) -> None:
    c = web_single.client()
    assert "每日推荐" in c.get(f"/digest/{DAY1}", headers={"Accept-Language": "zh-CN,zh"}).text
    assert "Digest of" in c.get(f"/digest/{DAY1}", headers={"Accept-Language": "en"}).text
    c.post("/lang", data={"lang": "zh", "csrf": csrf_of(c)})
    page = c.get(f"/digest/{DAY1}", headers={"Accept-Language": "en"}).text
    assert "的推荐" in page and 'lang="zh-CN"' in page
    assert c.post("/lang", data={"lang": "fr", "csrf": csrf_of(c)}).status_code == 400


def test_every_ui_string_has_a_chinese_translation() -> None:
    from papersift.web.i18n import ZH
    from papersift.web.views import WHY_NOT

    folder = Path(__file__).parents[1] / "src" / "papersift" / "web"
    used = set(WHY_NOT.values())  # the "why not recommended" sentences of the paper page
    for f in [*folder.glob("templates/*.html"), folder / "app.py"]:
        used |= set(re.findall(r'_\(\s*"((?:[^"\\]|\\.)+)"', f.read_text()))
        used |= set(re.findall(r'title="([A-Z][^"]+)", message', f.read_text()))
    missing = sorted(u for u in used if u not in ZH)
    assert not missing and len(used) > 50


def test_pictures_draw_library_and_picks(web_single: Web) -> None:
    page = web_single.client().get("/pictures").text
    svg = page[page.index('<svg'):page.index('</svg>')]
    circles = re.findall(r"<circle [^>]*>(?:<title>([^<]*)</title>)?", svg)
    assert len(circles) >= 14  # 6 library papers + 11 picks, less those without vectors
    assert "&lt;script&gt;" in svg and "<script>" not in svg
    assert 'class="trend"' in page and "2024-12-18" in page


def _legend(page: str) -> list[str]:
    trend = page[page.index('class="trend"'):]
    return re.findall(r'fill="currentColor">([^<]*)</text>', trend[:trend.index("</svg>")])


def test_each_user_sees_the_trends_of_their_own_topics(web_accounts: Web) -> None:
    # a second listing day: 40 of DAY1's papers cross-listed the day before
    day0 = "2024-12-17"
    with web_accounts.store.begin() as conn:
        web_accounts.store.add_listings(conn, day0, [
            (p.id, "cross") for p in web_accounts.store.listing(DAY1)[100:140]])
    trends, legends = {}, {}
    for user in (ANN, BOB):
        c = web_accounts.client()
        assert sign_in(c, user, PASSWORDS[user]) == 303
        trends[user] = c.get("/api/trends").json()
        legends[user] = _legend(c.get("/pictures").text)
        entries = web_accounts.store.digest(user, DAY1)
        trend = trends[user]
        assert trend["days"] == [day0, DAY1]
        names = [t["name"] for t in trend["topics"]]
        assert names and legends[user] == names  # one series per topic, named on the picture
        # every listed paper is counted at most once per topic, and some are close to one
        assert all(0 <= n <= 40 for t in trend["topics"] for n in t["close"][:1])
        assert sum(sum(t["close"]) for t in trend["topics"]) > 0
        # each digest paper scores for the one topic it is nearest to
        tops = [t["top"][1] for t in trend["topics"] if t["top"][1] is not None]
        assert max(tops) == max(e.score for e in entries)
        assert all(t["top"][0] is None for t in trend["topics"])  # no digest on day0
        for t in trend["topics"]:
            if t["top"][1] is not None:
                assert min(e.score for e in entries) <= t["mean"][1] <= t["top"][1]
    # different libraries, different topics and numbers
    assert trends[ANN]["topics"] != trends[BOB]["topics"]
    assert set(legends[ANN]) != set(legends[BOB])


def test_trend_labels_are_text() -> None:
    from papersift.web.svg import trend
    from papersift.web.views import TopicTrend

    hostile = TopicTrend(name='<script>alert(1)</script>"><img onerror=x>', close=[3, 5],
                         mean=[None, 1.5], top=[None, 2.0])
    out = trend(["2024-12-17", "2024-12-18"], [hostile])
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img onerror=x&gt;" in out
    assert "2024-12-18 · &lt;script&gt;" in out and ": 2.00 (mean 1.50)" in out


def test_a_library_without_papers_has_no_trends_to_draw(web_single: Web) -> None:
    web_single.store.sync_library(ANN, "config", [])
    c = web_single.client()
    assert c.get("/api/trends").json() == {"days": [], "topics": []}
    assert "Add papers to your library to see the trends of your topics." in c.get(
        "/pictures").text


@pytest.mark.parametrize("host,accounts", [("127.0.0.1", False), ("::1", False),
                                           ("0.0.0.0", True), ("192.168.1.5", True)])
def test_any_address_but_loopback_needs_accounts(web_single: Web, host: str,
                                                 accounts: bool) -> None:
    from papersift.web.server import needs_accounts

    assert needs_accounts(web_single.settings, host) is accounts


def test_api_docs_work_offline(web_single: Web) -> None:
    c = web_single.client()
    page = c.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert assets and all(a.startswith("/") for a in assets)  # no CDN
    assert all(c.get(a).status_code == 200 for a in assets)
    spec = c.get("/openapi.json").json()
    assert {"/api/digest/{day}", "/api/search", "/api/rate", "/api/trends"} <= set(
        spec["paths"])
    # the answers the pages' script and the pictures use are documented field by field
    schemas = spec["components"]["schemas"]
    assert {"said", "action", "paper_id"} <= set(schemas["Rated"]["properties"])
    assert {"days", "topics"} <= set(schemas["Trend"]["properties"])


def test_digest_cards_show_the_llm_tldr_of_their_own_user(web_single: Web) -> None:
    from papersift.store.llm import Judgement

    pid = web_single.store.digest(ANN, DAY1)[3].paper_id
    web_single.store.put_judgements([
        Judgement(user, pid, "h", "v1", "stub", "p", 8.0, 5.0, "on topic", tldr, "en")
        for user, tldr in ((ANN, "Ann's one-line summary"), (BOB, "Bob's summary"))])
    page = web_single.client().get(f"/digest/{DAY1}").text
    assert "Ann&#39;s one-line summary" in page and "Bob" not in page
    card = web_single.client().get(f"/api/digest/{DAY1}").json()
    assert [c["tldr"] for c in card["entries"] if c["id"] == pid] == ["Ann's one-line summary"]

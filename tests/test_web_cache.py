"""What the web app reuses between page views (rendered digest pages, a day's digest
papers) never shows a user someone else's page or a stale rating."""

from __future__ import annotations

import re

from papersift.profile.feedback import rate
from papersift.store import Store
from papersift.web.auth import set_password
from tests.arxiv_server import DAY1
from tests.test_web_app import csrf_of, sign_in
from tests.web_fixtures import ANN, Web

CAROL = "carol"


def _chosen(page: str) -> list[str]:
    """The cards' pressed rating buttons."""
    return re.findall(r'rate-(\w+) chosen"', page)


def test_users_with_the_same_digest_never_get_each_others_page(web_accounts: Web) -> None:
    store = web_accounts.store
    store.save_digest(CAROL, DAY1, "test", store.digest(ANN, DAY1))
    set_password(store, CAROL, "carol-secret-3")
    ann, carol = web_accounts.client(), web_accounts.client()
    assert sign_in(ann, ANN, "ann-secret-1") == 303
    assert sign_in(carol, CAROL, "carol-secret-3") == 303
    pages = {name: c.get(f"/digest/{DAY1}").text for name, c in ((ANN, ann), (CAROL, carol))}
    tokens = {ANN: csrf_of(ann), CAROL: csrf_of(carol)}
    # the same cards, but each page carries its own user's CSRF token only
    assert tokens[ANN] in pages[ANN] and tokens[ANN] not in pages[CAROL]
    assert tokens[CAROL] in pages[CAROL] and tokens[CAROL] not in pages[ANN]
    pid = store.digest(ANN, DAY1)[2].paper_id
    r = ann.post("/api/rate", json={"paper": pid, "action": "up"},
                 headers={"X-CSRF-Token": tokens[ANN]})
    assert r.status_code == 200
    assert _chosen(ann.get(f"/digest/{DAY1}").text) == ["up"]
    assert _chosen(carol.get(f"/digest/{DAY1}").text) == []


def test_a_rating_made_outside_the_app_shows_on_the_next_view(web_single: Web) -> None:
    """A 👍 from the CLI or another server process (a second Store on the same database)
    shows at once, though the page was viewed (and reused) just before."""
    c = web_single.client()
    url = f"/digest/{DAY1}"
    assert _chosen(c.get(url).text) == _chosen(c.get(url).text) == []
    other = Store(web_single.settings.store_url)
    try:
        pid = other.digest(ANN, DAY1)[1].paper_id
        rate(other, ANN, pid, "save", via="cli")
        assert _chosen(c.get(url).text) == ["save"]
        rate(other, ANN, pid, "down", via="cli")
        assert _chosen(c.get(url).text) == ["down"]
    finally:
        other.close()


def test_a_language_change_shows_on_the_next_view(web_single: Web) -> None:
    c = web_single.client()
    url = f"/digest/{DAY1}"
    assert 'title="Like"' in c.get(url).text
    r = c.post("/lang", data={"lang": "zh", "csrf": csrf_of(c), "next": url})
    assert r.status_code == 200 and r.url.path == url and 'title="Like"' not in r.text

"""The web app in Debian's Chromium (Playwright, one browser for the module): read a digest,
rate a paper in place (the JSON API) and see the profile change, search, sign in and out,
switch language; hostile paper text stays text. Screenshots go to test-artifacts/web/
(git-ignored)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.arxiv_server import DAY1
from tests.pg import store_like
from tests.web_fixtures import ANN, PASSWORDS, XSS, make_web, served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts" / "web"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_read_rate_search_and_switch_language(browser, tmp_path: Path,  # type: ignore[no-untyped-def]
                                              web_store_file: Path, embedder) -> None:
    web = make_web(tmp_path, store_like(web_store_file, tmp_path), embedder, accounts=False)
    with served(web.app) as base:
        context = browser.new_context(locale="en-US")
        page = context.new_page()
        page.goto(base + "/")
        assert page.url.endswith(f"/digest/{DAY1}")
        cards = page.locator("article.card")
        assert cards.count() == 11
        # hostile titles, authors and abstracts are shown as text, nothing runs
        titles = page.locator("article.card h3.title a").all_inner_texts()
        for p in XSS:
            assert p.title in titles
        assert page.get_by_text(XSS[0].authors[0]).count() == 1
        assert page.evaluate("window.__xss") is None
        assert page.locator("article.card img, article.card svg, main script").count() == 0
        shot(page, "digest")

        profile_before = int(_liked(context, base))
        card = cards.nth(4)
        page.evaluate("window.__same_page = true")
        # the button posts to the JSON API and the card shows its answer: same page, no
        # reload, the choice marked
        with page.expect_response(lambda r: r.url == base + "/api/rate") as answer:
            card.get_by_role("button", name=re.compile("Like")).click()
        assert answer.value.status == 200 and answer.value.json()["action"] == "up"
        card.locator("button.rate-up.chosen").wait_for()
        assert card.locator(".rated").inner_text() == "Your rating: liked"
        assert page.evaluate("window.__same_page") is True
        assert page.url.endswith(f"/digest/{DAY1}")
        assert int(_liked(context, base)) == profile_before + 1

        page.goto(base + "/paper/" + XSS[1].id)
        assert page.locator("h1.title").inner_text() == XSS[1].title
        assert page.evaluate("window.__xss") is None
        shot(page, "paper")

        page.goto(base + "/search")
        page.fill("#q", "language models")
        page.click("#search-go")
        page.locator("article.card").first.wait_for()
        assert "language" in page.locator("article.card").first.inner_text().lower()
        shot(page, "search")
        # hostile text in search results and in the feedback history is text too
        page.fill("#q", "robust decoding")
        page.click("#search-go")
        page.locator("article.card").first.wait_for()
        assert XSS[1].title in page.locator("article.card h3.title a").all_inner_texts()
        assert page.evaluate("window.__xss") is None
        csrf = context.request.get(base + "/api/me").json()["csrf"]
        assert context.request.post(base + "/api/rate", headers={"X-CSRF-Token": csrf},
                                    data={"paper": XSS[0].id, "action": "down"}).ok
        page.goto(base + "/profile")
        assert page.locator("#history a", has_text=XSS[0].title).count() == 1
        assert page.evaluate("window.__xss") is None
        assert page.locator("#history img, #history script").count() == 0

        page.goto(base + "/pictures")
        assert page.locator("#map circle").count() >= 10
        assert page.locator("#trend g.series").count() >= 1  # one series per topic
        shot(page, "pictures")

        page.goto(base + f"/digest/{DAY1}")
        page.select_option("#lang-select", "zh")
        page.click("#lang-form button")
        page.get_by_text(f"{DAY1} 的推荐").first.wait_for()
        assert page.url.endswith(f"/digest/{DAY1}")
        shot(page, "digest-zh")
        context.close()


def _liked(context, base: str) -> str:  # type: ignore[no-untyped-def]
    """The profile's library count, read in a second tab of the same browser context."""
    tab = context.new_page()
    tab.goto(base + "/profile")
    count = tab.locator("#liked-count").inner_text()
    if tab.url.endswith("/profile"):
        shot(tab, "profile")
    tab.close()
    return count


def test_sign_in_and_out_without_javascript(browser, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            web_store_file: Path, embedder) -> None:
    web = make_web(tmp_path, store_like(web_store_file, tmp_path), embedder, accounts=True)
    with served(web.app) as base:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(base + f"/digest/{DAY1}")
        assert "/login" in page.url
        page.fill("#user", ANN)
        page.fill("#password", "wrong")
        page.click("#login")
        assert page.locator("#error").is_visible()
        shot(page, "login-error")
        page.fill("#user", ANN)
        page.fill("#password", PASSWORDS[ANN])
        page.click("#login")
        page.goto(base + f"/digest/{DAY1}")
        assert page.locator("article.card").count() == 11
        # reading and rating work without JavaScript (plain form posts)
        page.locator("article.card").nth(5).get_by_role("button", name=re.compile("Save")).click()
        assert page.locator("article.card").nth(5).locator("button.rate-save.chosen").count() == 1
        page.click("#logout")
        assert "/login" in page.url
        page.goto(base + f"/digest/{DAY1}")
        assert "/login" in page.url
        context.close()

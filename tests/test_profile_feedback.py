"""Feedback (CLI, Python API, signed links), users kept apart, and what the daily digest does
with 👎, muted topics and other users' profiles."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from papersift import config
from papersift.cli import main
from papersift.errors import ProfileError
from papersift.jobs import daily
from papersift.profile.feedback import rate, rate_token
from papersift.rank.embed import MiniLM
from papersift.records import Paper
from papersift.store import Store
from papersift.tokens import TokenError, sign
from tests.conftest import DEMO_DAY, EXAMPLES

KEY = "k" * 32


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}",
            "PAPERSIFT_ARXIV_OFFLINE": "1", "PAPERSIFT_SECRET_KEY": KEY}


@pytest.fixture
def store(env: dict[str, str]) -> Store:
    s = Store(env["PAPERSIFT_STORE_URL"])
    with s.begin() as conn:
        s.upsert_papers(conn, [Paper("2401.00001", "A", "a"), Paper("2401.00002", "B", "b")])
    return s


def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env=env)
    return r.exit_code, r.stdout, r.stderr


def labels(store: Store, user: str = "default") -> dict[str, tuple[str, int]]:
    return {e.paper_id: (e.source, e.label) for e in store.library(user)}


def test_rate_up_down_save_dismiss(env: dict[str, str], store: Store) -> None:
    assert cli(env, "rate", "2401.00001", "up")[1] == "default: up 2401.00001\n"
    cli(env, "rate", "https://arxiv.org/abs/2401.00002v3", "👎")
    out = cli(env, "rate", "2401.00003", "save")[1]
    assert "not in the store yet" in out
    cli(env, "rate", "2401.00004", "dismiss")
    assert labels(store) == {"2401.00001": ("feedback", 1), "2401.00002": ("feedback", -1),
                             "2401.00003": ("feedback", 1)}  # dismiss only hides
    assert [(f.paper_id, f.action, f.via) for f in store.feedback("default")] == [
        ("2401.00001", "up", "cli"), ("2401.00002", "down", "cli"),
        ("2401.00003", "save", "cli"), ("2401.00004", "dismiss", "cli")]
    cli(env, "rate", "2401.00001", "down")  # a change of mind: the latest rating wins
    assert labels(store)["2401.00001"] == ("feedback", -1)
    added = {e.paper_id: e.added_at for e in store.library("default")}
    assert all(added.values())  # the time of each rating, for recency weighting


def test_feedback_outlives_resyncs_of_the_source(tmp_path: Path, env: dict[str, str],
                                                 store: Store) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("2401.00001\n2401.00002\n")
    cli(env, "profile", "add", str(ids))
    cli(env, "rate", "2401.00002", "down")
    cli(env, "profile", "sync")
    assert labels(store) == {"2401.00001": (f"ids:{_key(ids)}", 1),
                             "2401.00002": ("feedback", -1)}


def _key(path: Path) -> str:
    import hashlib

    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]


def test_bad_ratings_are_one_line_errors(env: dict[str, str], store: Store) -> None:
    for args, msg in [
        (("rate", "2401.00001", "meh"), "unknown rating 'meh': use one of up, down, save, "
                                        "dismiss"),
        (("rate", "12345", "up"), "invalid arXiv id '12345'"),
        (("rate", "2401.00001", "up", "--user", "zoe"), "unknown user 'zoe' (known: default)"),
        (("rate", "2401.00001"), "usage: papersift rate PAPER up|down|save|dismiss"),
    ]:
        code, _, errs = cli(env, *args)
        assert code == 1 and errs.startswith(f"error: {msg}") and errs.count("\n") == 1, errs
    assert store.feedback("default") == []


def test_blank_authors_keywords_and_topics_are_one_line_errors(env: dict[str, str],
                                                               store: Store) -> None:
    for command in ("follow", "keyword", "mute"):
        code, out, errs = cli(env, "profile", command, "  ", "")
        assert code == 1 and errs.strip() == \
            "error: empty value: type an author, keyword or topic", (command, out, errs)
    assert all(store.terms("default", k) == [] for k in ("author", "keyword", "mute"))


def test_signed_links_rate_only_what_they_say(env: dict[str, str], store: Store) -> None:
    store.sync_source("ana", "ids:cli", "ids", "command line", ["2401.00001"])
    token = sign(KEY.encode(), "ana", "2401.00002", "down")
    code, out, _ = cli(env, "rate", "--token", f"http://127.0.0.1:8765/feedback?t={token}")
    assert code == 0 and out == "ana: down 2401.00002\n"
    assert labels(store, "ana")["2401.00002"] == ("feedback", -1)
    assert store.feedback("default") == []
    assert store.feedback("ana")[0].via == "link"

    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    code, _, errs = cli(env, "rate", "--token", forged)
    assert code == 1 and "bad signature" in errs
    old = sign(KEY.encode(), "ana", "2401.00001", "up", days=1, now=time.time() - 3 * 86400)
    with pytest.raises(TokenError, match="expired"):
        rate_token(store, KEY.encode(), old)
    assert len(store.feedback("ana")) == 1


def test_python_api_for_the_web_app(store: Store) -> None:
    done = rate(store, "default", "2401.00001", "save", via="web")
    assert (done.paper_id, done.action, done.label, done.in_store) == \
        ("2401.00001", "save", 1, True)
    with pytest.raises(ProfileError, match="unknown rating"):
        rate(store, "default", "2401.00001", "love", via="web")


# --- the daily digest: users apart, 👎 used, muted topics gone ------------------------------


@pytest.mark.slow
def test_daily_uses_thumbs_down_and_mutes_per_user(demo_settings: config.Settings,
                                                   demo_env: dict[str, str],
                                                   embedder: MiniLM) -> None:
    library = str(EXAMPLES / "llm-researcher-library.txt")
    for user in ("bob", "carol"):
        code, _, errs = cli(demo_env, "profile", "add", "--user", user, library)
        assert code == 0, errs
    bob = daily(demo_settings, DEMO_DAY, user="bob", embedder=embedder).digest.entries
    store = Store(demo_settings.store_url)
    assert store.digest("default", DEMO_DAY) is None  # nobody else's digest was made

    down = [e.paper.id for e in bob[:3]]
    for pid in down:
        cli(demo_env, "rate", "--user", "carol", pid, "down")
    muted = next(w for w in ("reasoning", "agent", "benchmark")
                 if any(w in (e.paper.title + e.paper.abstract).lower() for e in bob[3:]))
    cli(demo_env, "profile", "mute", "--user", "carol", muted, "cs.CV")
    result = daily(demo_settings, DEMO_DAY, user="carol", embedder=embedder)
    carol = result.digest.entries
    assert 0 < len(carol) <= demo_settings["digest.size"]  # those above the worth-reading level
    assert not {e.paper.id for e in carol} & set(down)
    assert result.muted > 0
    for e in carol:
        assert muted not in (e.paper.title + " " + e.paper.abstract).lower()
        assert "cs.CV" not in e.paper.categories
    # the three 👎 are explicit negatives now (what they do to similar papers:
    # test_rankers.py::test_thumbs_down_pushes_similar_papers_down)
    assert [e.label for e in store.library("carol") if e.paper_id in down] == [-1] * 3
    store.close()


@pytest.mark.slow
def test_profile_show_and_follow(demo_env: dict[str, str]) -> None:
    library = str(EXAMPLES / "llm-researcher-library.txt")
    cli(demo_env, "profile", "add", "--user", "bob", library)
    code, out, errs = cli(demo_env, "profile", "follow", "--user", "bob", "Tri Dao")
    assert code == 0, errs
    assert out.startswith("following Tri Dao (") and "papers, with " in out
    cli(demo_env, "rate", "--user", "bob", "2505.13738", "down")
    code, out, _ = cli(demo_env, "profile", "show", "--user", "bob")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("user bob: ") and "1 thumbs-down" in lines[0]
    assert any("llm-researcher-library.txt" in line for line in lines)
    assert "main interests:" in lines
    clusters = out.split("main interests:\n")[1].split("followed authors:")[0]
    assert clusters.count("·") >= 6  # several clusters, each with representative titles
    assert "followed authors: Tri Dao" in out and "muted: none" in out
    code, _, errs = cli(demo_env, "profile", "show", "--user", "nobody")
    assert code == 1 and "unknown user 'nobody'" in errs


@pytest.mark.slow
def test_bootstrap_asks_about_diverse_recent_papers_near_the_interests(
        demo_env: dict[str, str]) -> None:
    code, _, errs = cli(demo_env, "profile", "keyword", "--user", "newbie", "linear attention",
                        "state space model", "recurrent")
    assert code == 0, errs
    r = CliRunner().invoke(main, ["profile", "bootstrap", "--user", "newbie", "--count", "6"],
                           env=demo_env, input="u\nd\n\ns\nx\nq\n")
    assert r.exit_code == 0, r.stderr
    shown = [line.split()[0] for line in r.stdout.splitlines()
             if line.startswith("  https://arxiv.org/abs/")]
    assert len(shown) == 6 and len(set(shown)) == 6
    store = Store(demo_env["PAPERSIFT_STORE_URL"])
    papers = store.get_papers([s.removeprefix("https://arxiv.org/abs/") for s in shown])
    assert all("2025-10-30" <= (p.announced or "") <= "2025-11-13" for p in papers.values())
    on_topic = [p for p in papers.values() if any(
        t in p.text.lower() for t in ("attention", "state space", "recurren", "rnn", "mamba",
                                      "linear", "sequence"))]
    assert len(on_topic) >= 4
    assert [(f.action, f.via) for f in store.feedback("newbie")] == [
        ("up", "bootstrap"), ("down", "bootstrap"), ("save", "bootstrap"),
        ("dismiss", "bootstrap")]
    assert "rated 4 papers; newbie now has 2 liked papers" in r.stdout
    store.close()
    r = CliRunner().invoke(main, ["profile", "bootstrap", "--user", "ghost"], env=demo_env)
    assert r.exit_code == 1 and "has nothing to start from" in r.stderr

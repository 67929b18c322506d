"""`papersift daily --all-users`: one pass over the day for every user, each getting exactly
the digest a run for them alone gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from papersift import config
from papersift.cli import main
from papersift.jobs import daily, daily_all
from papersift.profile.config_source import read_id_file
from papersift.rank.embed import MiniLM
from papersift.store import Store
from tests.conftest import DEMO_DAY, EXAMPLES
from tests.pg import both_stores

OTHERS = {"bob": (slice(0, 12), ["speculative decoding"]), "cy": (slice(12, 20), []),
          "dee": (slice(20, 26), [])}


def _with_users(url: str, workers: int = 1) -> config.Settings:
    """The demo profile (its owner), three users with libraries of their own and one who
    only muted a topic (nothing to rank for)."""
    ids = read_id_file(EXAMPLES / "llm-researcher-library.txt")
    store = Store(url)
    for user, (part, keywords) in OTHERS.items():
        store.sync_source(user, "ids:1", "ids", "list.txt", ids[part])
        store.add_terms(user, "keyword", keywords)
    store.add_terms("eve", "muted", ["robotics"])
    store.close()
    return config.load(EXAMPLES / "demo.toml", env={
        "PAPERSIFT_STORE_URL": url, "PAPERSIFT_DIGEST_OUT_DIR": "digests",
        "PAPERSIFT_DIGEST_WORKERS": str(workers)})


@both_stores
def test_one_pass_gives_each_user_the_digest_of_a_run_of_their_own(
        store_copy: Callable[[Path], str], warm_store_file: Path, embedder: MiniLM,
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    # after the first user, the others are ranked by two forked workers
    together, alone = _with_users(store_copy(warm_store_file), workers=2), \
        _with_users(store_copy(warm_store_file))
    logged: list[str] = []
    results = daily_all(together, DEMO_DAY, embedder=embedder, send=False, log=logged.append)
    assert sorted(results) == ["bob", "cy", "dee", "default"]
    # a worker's failing user reaches the caller's log, and the others go on
    assert any(line.startswith("eve: ") and "profile" in line for line in logged), logged
    a, b = Store(together.store_url), Store(alone.store_url)
    for user in results:
        daily(alone, DEMO_DAY, user=user, embedder=embedder, send=False)
        assert a.digest(user, DEMO_DAY) == b.digest(user, DEMO_DAY)
        assert len(a.digest(user, DEMO_DAY)) >= 5
    picks = {u: {e.paper_id for e in a.digest(u, DEMO_DAY)} for u in results}
    assert picks["bob"] != picks["cy"]  # users never mix
    # the command line: a rerun ranks nothing again
    res = CliRunner().invoke(main, ["--config", str(EXAMPLES / "demo.toml"), "daily", "--date",
                                    DEMO_DAY, "--all-users", "--no-send"],
                             env={"PAPERSIFT_STORE_URL": together.store_url,
                                  "PAPERSIFT_DIGEST_OUT_DIR": str(tmp_path / "d")})
    assert res.exit_code == 0, res.output
    assert "bob: " in res.stdout and "(already ranked)" in res.stdout
    assert "ranked 4 users" in res.stdout

"""`papersift fetch` from the command line, against the local arXiv-format server."""

from pathlib import Path

from click.testing import CliRunner

from papersift.cli import main
from papersift.store import Store
from tests.arxiv_server import DAY1, ArxivServer, Fault, closed_port_url

pytest_plugins = ["tests.arxiv_fixtures"]


def test_fetch_feed_then_ids(arxiv_env: dict[str, str], tmp_path: Path,
                             arxiv_server: ArxivServer) -> None:
    env = {**arxiv_env, "PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}"}
    res = CliRunner().invoke(main, ["fetch"], env=env)
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"feed cs.CL {DAY1}: ") and " new, " in res.output
    store = Store(env["PAPERSIFT_STORE_URL"])
    listed = store.listing(DAY1)
    assert listed and all("cs.CL" in p.categories for p in listed)
    known = listed[0].id
    res = CliRunner().invoke(main, ["fetch", "--ids", known, "--ids", "2412.99999"], env=env)
    assert res.exit_code == 0, res.output
    assert "lookup: 1 papers, 1 unknown (2412.99999)" in res.output
    assert arxiv_server.requests_to("/api/query")[0].headers["user-agent"].startswith("papersift/")


def test_fetch_unreachable_is_one_line(arxiv_env: dict[str, str], tmp_path: Path) -> None:
    env = {**arxiv_env, "PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}",
           "PAPERSIFT_ARXIV_RSS_URL": closed_port_url() + "/rss",
           "PAPERSIFT_ARXIV_MAX_RETRIES": "1"}  # the CLI's real backoff: 2 s per retry
    res = CliRunner().invoke(main, ["fetch"], env=env)
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: arXiv unreachable at ")
    assert "connection refused" in lines[0]


def test_fetch_429_storm_is_one_line_and_stores_nothing(
        arxiv_env: dict[str, str], tmp_path: Path, arxiv_server: ArxivServer) -> None:
    env = {**arxiv_env, "PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}",
           "PAPERSIFT_ARXIV_MAX_RETRIES": "1"}
    arxiv_server.storm("/rss", Fault(status=429))
    res = CliRunner().invoke(main, ["fetch"], env=env)
    assert res.exit_code == 1
    assert len(res.output.strip().splitlines()) == 1 and "429" in res.output
    assert Store(env["PAPERSIFT_STORE_URL"]).count_papers() == 0


def test_offline_config_sends_nothing(arxiv_env: dict[str, str], tmp_path: Path,
                                      arxiv_server: ArxivServer) -> None:
    env = {**arxiv_env, "PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}",
           "PAPERSIFT_ARXIV_OFFLINE": "true"}
    res = CliRunner().invoke(main, ["fetch"], env=env)
    assert res.exit_code == 1 and "offline by configuration" in res.output
    assert arxiv_server.requests == []

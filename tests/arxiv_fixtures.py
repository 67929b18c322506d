"""Fixtures for the arXiv source tests; test modules load them with `pytest_plugins`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from papersift import config
from papersift.sources.http import ArxivClient
from papersift.store import Store
from tests.arxiv_server import DATA, ArxivServer, load_days

CONTACT = "tests@example.org"
# Fast but still observable: spacing, backoff and retries all stay well under a second.
FAST = {"min_interval": 0.05, "timeout": 2.0, "max_retries": 3, "backoff": 0.01,
        "max_wait": 2.0, "contact": CONTACT}


@pytest.fixture(scope="session")
def arxiv_days() -> dict[str, list[dict]]:
    if not DATA.exists():
        pytest.skip(f"shared data {DATA} is missing")
    return load_days()


@pytest.fixture
def arxiv_server(arxiv_days: dict[str, list[dict]]) -> Iterator[ArxivServer]:
    with ArxivServer(arxiv_days) as server:
        yield server


@pytest.fixture
def arxiv_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    yield store
    store.close()


@pytest.fixture
def arxiv_env(arxiv_server: ArxivServer, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment overrides pointing every endpoint at the local server (no config file)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    return {
        "PAPERSIFT_ARXIV_RSS_URL": f"{arxiv_server.url}/rss",
        "PAPERSIFT_ARXIV_OAI_URL": f"{arxiv_server.url}/oai",
        "PAPERSIFT_ARXIV_API_URL": f"{arxiv_server.url}/api/query",
        "PAPERSIFT_ARXIV_CATEGORIES": "cs.CL",
        "PAPERSIFT_ARXIV_MIN_INTERVAL": str(FAST["min_interval"]),
        "PAPERSIFT_ARXIV_TIMEOUT": str(FAST["timeout"]),
        "PAPERSIFT_ARXIV_MAX_RETRIES": str(FAST["max_retries"]),
        "PAPERSIFT_ARXIV_CONTACT": CONTACT,
    }


@pytest.fixture
def arxiv_settings(arxiv_env: dict[str, str]) -> config.Settings:
    return config.load(None, env=arxiv_env)


@pytest.fixture
def make_client() -> Iterator[Callable[..., ArxivClient]]:
    """ArxivClient factory with the FAST settings, any of them overridable; closes them all."""
    made: list[ArxivClient] = []

    def make(**overrides: object) -> ArxivClient:
        made.append(ArxivClient(**{**FAST, **overrides}))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for client in made:
        client.close()

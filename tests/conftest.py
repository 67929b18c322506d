"""Shared fixtures. Data comes from ../shared (read-only, never copied into the repo)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from papersift import config
from papersift.profile.config_source import read_id_file
from papersift.rank.base import background_sample, background_start
from papersift.rank.embed import MiniLM, embed_papers
from papersift.sources.dump import import_dump
from papersift.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DUMP = SHARED / "data" / "arxiv-cs-2024-2026.jsonl.gz"
EXAMPLES = ROOT / "examples"
DEMO_DAY = "2025-11-12"

# delivery and web tests; the PostgreSQL cluster of the tests that run on both stores
pytest_plugins = ["tests.pg", "tests.delivery_fixtures", "tests.web_fixtures", "tests.llm_server"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not DUMP.exists():
        skip = pytest.mark.skip(reason=f"shared data {DUMP} is missing")
        for item in items:
            if "shared_day_dump" in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # one cache for the session: the static model is distilled once, not per test
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _session_cache: Path) -> None:
    """No test reads or writes the real user's config, data or cache."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_session_cache))
    for var in [v for v in __import__("os").environ if v.startswith("PAPERSIFT_")]:
        monkeypatch.delenv(var)


@pytest.fixture(scope="session")
def shared_day_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real records: the demo day's listing, the day after, the month before (the ranker's
    background) and the example library."""
    library = set(read_id_file(EXAMPLES / "llm-researcher-library.txt"))
    out = tmp_path_factory.mktemp("dump") / "slice.jsonl"
    with gzip.open(DUMP, "rt", encoding="utf-8") as src, open(out, "w") as dst:
        for line in src:
            r = json.loads(line)
            if "2025-10-13" <= (r.get("announced") or "") <= "2025-11-13" or r["id"] in library:
                dst.write(line)
    return out


@pytest.fixture(scope="session")
def embedder() -> MiniLM:
    return MiniLM(batch_size=64, threads=2)


@pytest.fixture(scope="session")
def warm_store_file(tmp_path_factory: pytest.TempPathFactory, shared_day_dump: Path,
                    embedder: MiniLM) -> Path:
    """A store holding the slice, with the embeddings the daily runs of the tests need
    (library, both days, background sample) computed once for the session."""
    path = tmp_path_factory.mktemp("store") / "warm.sqlite"
    store = Store(f"sqlite:///{path}")
    import_dump(store, shared_day_dump)
    ids = read_id_file(EXAMPLES / "llm-researcher-library.txt")
    ids += store.papers_announced_between(DEMO_DAY, "2025-11-14")
    papers = list(store.get_papers(ids).values())
    for day in (DEMO_DAY, "2025-11-13"):
        start = background_start(day)
        recent = store.get_papers(store.papers_announced_between(start, day)).values()
        papers += background_sample(list(recent))
    embed_papers(store, embedder, list({p.id: p for p in papers}.values()))
    store.close()
    return path


@pytest.fixture
def demo_env(tmp_path: Path, warm_store_file: Path,
             store_copy: Callable[[Path], str]) -> Iterator[dict[str, str]]:
    """Environment for the example profile on a private copy of the warm store."""
    yield {"PAPERSIFT_STORE_URL": store_copy(warm_store_file),
           "PAPERSIFT_DIGEST_OUT_DIR": str(tmp_path / "digests")}


@pytest.fixture
def demo_settings(demo_env: dict[str, str]) -> config.Settings:
    return config.load(EXAMPLES / "demo.toml", env=demo_env)

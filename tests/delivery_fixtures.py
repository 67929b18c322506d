"""Fixtures of the delivery tests: a small store of real papers (arXiv's listing of
2024-12-18 from the shared dump) holding a stored digest, and config files with channels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from papersift import config
from papersift.config import _toml_value
from papersift.sources.dump import import_dump
from papersift.store import Store
from papersift.store.db import DigestEntry
from tests.arxiv_server import DAY1, load_days
from tests.pg import store_like

USER = "ann"
SECRET_KEY = "test-signing-key-0123456789"  # signs the feedback links


@pytest.fixture(scope="session")
def small_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    dump = folder / "days.jsonl"
    with open(dump, "w") as f:
        for records in load_days().values():
            for r in records:
                f.write(json.dumps(r) + "\n")
    path = folder / "small.sqlite"
    store = Store(f"sqlite:///{path}")
    import_dump(store, dump)
    store.close()
    return path


def store_digest(store: Store, user: str, day: str, n: int = 12) -> list[str]:
    """A digest of `n` real papers of the day (scores made up: delivery is under test)."""
    papers = store.listing(day)[:n]
    entries = [DigestEntry(i + 1, p.id, round(3.0 - 0.2 * i, 2), f"keyword: test {i}")
               for i, p in enumerate(papers)]
    store.save_digest(user, day, "test", entries)
    return [p.id for p in papers]


@dataclass
class Env:
    folder: Path
    env: dict[str, str]
    store_url: str

    def write_config(self, channels: list[dict[str, Any]], extra: str = "") -> Path:
        lines = ["[arxiv]", "offline = true", 'categories = ["cs.CL", "cs.LG", "cs.AI", '
                 '"cs.CV", "cs.RO", "cs.CR", "cs.SE", "cs.IR", "cs.DS", "cs.NI"]',
                 "[profile]", f'user = "{USER}"', 'keywords = ["learning"]',
                 "[web]", 'base_url = "https://papers.example.org"', "[delivery]",
                 "backoff = 0.01", extra, ""]
        for ch in channels:
            lines.append("[[channel]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in ch.items()]
            lines.append("")
        path = self.folder / "config.toml"
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    def settings(self, channels: list[dict[str, Any]], extra: str = "") -> config.Settings:
        return config.load(self.write_config(channels, extra), env=self.env)

    def store(self) -> Store:
        return Store(self.store_url)


@pytest.fixture
def denv(tmp_path: Path, small_store_file: Path, monkeypatch: pytest.MonkeyPatch,
         request: pytest.FixtureRequest, backend: str) -> Iterator[Env]:
    url = store_like(small_store_file, tmp_path, backend, request)
    store = Store(url)
    store_digest(store, USER, DAY1)
    store.close()
    monkeypatch.setenv("PAPERSIFT_SECRET_KEY", SECRET_KEY)
    env = {"PAPERSIFT_STORE_URL": url, "PAPERSIFT_DIGEST_OUT_DIR": str(tmp_path / "out"),
           "PAPERSIFT_SECRET_KEY": SECRET_KEY}
    yield Env(tmp_path, env, url)

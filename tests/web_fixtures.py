"""Fixtures of the web tests: the small store of real papers (arXiv's listing of
2024-12-18) with digests for two users, papers whose text tries HTML/script injection, and
the app (in process for TestClient, or served by uvicorn on 127.0.0.1 for the browser)."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from papersift import config
from papersift.rank.embed import MiniLM, embed_papers
from papersift.records import Paper
from papersift.store import Store
from papersift.store.db import DigestEntry
from papersift.web.app import create_app
from papersift.web.auth import set_password
from papersift.web.server import uvicorn_config
from tests.arxiv_server import DAY1
from tests.pg import store_like

ANN, BOB = "ann", "bob"
PASSWORDS = {ANN: "ann-secret-1", BOB: "bob-secret-2"}
# Paper text is untrusted: each of these must show up as literal text, never as markup.
XSS = [
    Paper("2412.99001", "<script>window.__xss = 1</script>Attention tricks",
          "We show <b>bold</b> claims.", ["Eve <img src=x onerror=\"window.__xss=2\">"],
          ["cs.CL"], announced=DAY1),
    Paper("2412.99002", '"><img src=x onerror="window.__xss=3">Robust decoding',
          "An abstract with </textarea><svg onload=\"window.__xss=4\">.", ["Mallory"],
          ["cs.CL"], announced=DAY1),
    Paper("2412.99003", r"Bounds on $\mathcal{O}(n^{2})$ attention & <i>friends</i>",
          r"We prove $\frac{a}{b} < c$ for {{ 7*7 }} cases.", ["Ann Example"], ["cs.LG"],
          announced=DAY1),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def web_store_file(small_store_file: Path, embedder: MiniLM,
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small store plus the XSS papers, digests for ann and bob on DAY1 and embeddings
    of the day's papers (similar papers, semantic search, the interest map)."""
    path = tmp_path_factory.mktemp("web") / "web.sqlite"
    shutil.copy(small_store_file, path)
    store = Store(f"sqlite:///{path}")
    with store.begin() as conn:
        store.upsert_papers(conn, XSS)
        store.add_listings(conn, DAY1, [(p.id, "new") for p in XSS])
    listing = [p for p in store.listing(DAY1) if p.id not in {x.id for x in XSS}]
    for user, offset in ((ANN, 0), (BOB, 20)):
        picks = (XSS if user == ANN else []) + listing[offset:offset + 8]
        store.save_digest(user, DAY1, "test", [
            DigestEntry(i + 1, p.id, round(3.0 - 0.2 * i, 2), f"close to test paper {i}")
            for i, p in enumerate(picks)])
        store.sync_library(user, "config", [p.id for p in listing[60 + offset:66 + offset]])
    embed_papers(store, embedder, store.listing(DAY1))
    store.close()
    return path


@dataclass
class Web:
    settings: config.Settings
    store: Store
    app: FastAPI
    folder: Path

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://127.0.0.1")


def make_web(folder: Path, store_url: str, embedder: MiniLM, *, accounts: bool,
             extra: str = "", categories: tuple[str, ...] = ("cs.CL", "cs.LG", "cs.AI")) -> Web:
    cfg = folder / "config.toml"
    cfg.write_text(f"[arxiv]\noffline = true\ncategories = {json.dumps(list(categories))}\n"
                   f"[profile]\nuser = \"{ANN}\"\n[web]\nsecret_file = \"secret.key\"\n{extra}")
    settings = config.load(cfg, env={"PAPERSIFT_STORE_URL": store_url})
    store = Store(settings.store_url)
    if accounts:
        for user, password in PASSWORDS.items():
            set_password(store, user, password)
    return Web(settings, store, create_app(settings, accounts=accounts, store=store,
                                           embedder=embedder), folder)


@pytest.fixture
def web_single(tmp_path: Path, web_store_file: Path, embedder: MiniLM,
               request: pytest.FixtureRequest, backend: str) -> Iterator[Web]:
    url = store_like(web_store_file, tmp_path, backend, request)
    web = make_web(tmp_path, url, embedder, accounts=False)
    yield web
    web.store.close()


@pytest.fixture
def web_accounts(tmp_path: Path, web_store_file: Path, embedder: MiniLM,
               request: pytest.FixtureRequest, backend: str) -> Iterator[Web]:
    url = store_like(web_store_file, tmp_path, backend, request)
    web = make_web(tmp_path, url, embedder, accounts=True)
    yield web
    web.store.close()


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app on a real loopback port (uvicorn in a thread); yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)

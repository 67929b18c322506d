"""Migration 0002 keeps existing libraries, and the library view's rules."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from papersift.store import Store
from papersift.store import db as store_db
from tests.pg import both_stores


def test_upgrade_from_0001_keeps_the_library(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    cfg = Config(str(Path(store_db.__file__).parent / "alembic.ini"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO library VALUES ('ana', '2401.00001', 'config', 1, "
                          "'2025-01-01T00:00:00+00:00')"))
    engine.dispose()
    store = Store(url)  # migrates to head
    assert [(e.paper_id, e.source, e.added_at) for e in store.library("ana")] == [
        ("2401.00001", "config", "2025-01-01T00:00:00+00:00")]
    store.sync_library("ana", "config", ["2401.00002"])  # the config dropped the first paper
    assert [e.paper_id for e in store.library("ana")] == ["2401.00002"]


@both_stores
def test_library_view_rules(store_url: str) -> None:
    store = Store(store_url)
    store.sync_source("u", "bibtex:1", "bibtex", "a.bib", ["p1", "p2"], now="2025-01-01")
    store.sync_source("u", "notes:1", "notes", "n/", ["p2", "p3"], now="2025-02-01")
    view = {e.paper_id: (e.source, e.label, e.added_at) for e in store.library("u")}
    assert view == {"p1": ("bibtex:1", 1, "2025-01-01"), "p2": ("bibtex:1", 1, "2025-01-01"),
                    "p3": ("notes:1", 1, "2025-02-01")}  # the earliest source holds it
    store.record_feedback("u", "p3", "down", "web", at="2025-03-01")
    store.record_feedback("u", "p1", "dismiss", "web", at="2025-03-02")
    assert store.remove_source("u", "bibtex:1") == 2
    view = {e.paper_id: (e.source, e.label, e.added_at) for e in store.library("u")}
    assert view == {"p2": ("notes:1", 1, "2025-02-01"), "p3": ("feedback", -1, "2025-03-01")}
    assert store.library_by_source("u") == {"notes:1": 2, "feedback 👎": 1}
    assert store.library("v") == [] and store.users() == {"u"}


@both_stores
def test_a_user_is_known_by_any_trace_they_left(store_url: str) -> None:
    store = Store(store_url)
    store.sync_source("lib", "ids:1", "ids", "a.txt", ["p1"])
    store.add_terms("terms", "keyword", ["linear attention"])
    store.record_feedback("rater", "p2", "dismiss", "web")  # a rating that teaches nothing
    assert store.users() == {"lib", "terms", "rater"}
    assert all(store.has_user(u) for u in store.users())
    assert not store.has_user("nobody") and not store.has_user("")


@both_stores
def test_ratings_of_one_paper_at_once_all_count_and_the_latest_wins(store_url: str) -> None:
    """Two tabs, or a tab and a digest link, rating the same paper at the same moment: no
    rating fails or is lost, and the library follows the latest one (PostgreSQL once
    answered such a pair with a duplicate-key error)."""
    store = Store(store_url)
    papers = [f"p{i}" for i in range(30)]
    errors: list[Exception] = []

    def rater(k: int) -> None:
        for pid in papers:  # every rater reaches each paper at about the same time
            try:
                store.record_feedback("u", pid, ("up", "down")[k % 2], "web")
            except Exception as e:  # collected for the assertion below
                errors.append(e)

    threads = [threading.Thread(target=rater, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    latest = {f.paper_id: f.action for f in store.feedback("u")}  # oldest first
    assert len(store.feedback("u")) == 8 * len(papers)
    assert {e.paper_id: e.label for e in store.library("u")} == {
        pid: 1 if action == "up" else -1 for pid, action in latest.items()}

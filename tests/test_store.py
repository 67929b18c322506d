import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from papersift.cli import main
from papersift.errors import StoreError
from papersift.records import Paper
from papersift.store import Store
from papersift.store.db import DigestEntry
from papersift.store.web import Filters
from tests.pg import PgCluster, both_stores


def paper(pid: str, day: str = "2025-11-12") -> Paper:
    return Paper(id=pid, title=f"Title {pid}", abstract="Abstract.", authors=["A B"],
                 categories=["cs.CL"], announced=day, versions=[(1, "2025-11-11")])


def test_corrupted_store_file_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    db.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a valid SQLite database .*move it aside"):
        Store(f"sqlite:///{db}")
    assert db.read_bytes().startswith(b"this is not")  # left alone for the user


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_store_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    store = Store(f"sqlite:///{db}")
    with store.begin() as conn:
        store.upsert_papers(conn, [paper("2511.00001")])
    store.close()
    for f in tmp_path.iterdir():
        f.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        ro = Store(f"sqlite:///{db}")
        with pytest.raises(StoreError, match="read-only"), ro.begin() as conn:
            ro.upsert_papers(conn, [paper("2511.00002")])
    finally:
        tmp_path.chmod(0o755)
    assert [r[0] for r in sqlite3.connect(db).execute("select id from papers")] == ["2511.00001"]


def test_read_only_store_via_cli(tmp_path: Path) -> None:
    """Root ignores permissions, so open the database read-only through SQLite's URI mode."""
    db = tmp_path / "s.sqlite"
    Store(f"sqlite:///{db}").close()
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    dump = tmp_path / "d.jsonl"
    dump.write_text('{"id": "2511.00001", "title": "T", "abstract": "A", "versions": []}\n')
    res = CliRunner().invoke(main, ["import-dump", str(dump)], env={"PAPERSIFT_STORE_URL": url})
    assert res.exit_code == 1
    assert "read-only: fix its permissions" in res.output
    assert sqlite3.connect(db).execute("select count(*) from papers").fetchone()[0] == 0


def test_store_in_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        Store(f"sqlite:///{blocker / 'sub' / 's.sqlite'}")


@pytest.mark.parametrize("url", ["notaurl", "mysql+nodriver://h/db", ""])
def test_a_store_url_that_is_no_database_is_a_clear_error(url: str) -> None:
    with pytest.raises(StoreError, match="not a database URL .* use sqlite:///PATH"):
        Store(url)


@both_stores
def test_a_paper_reaches_a_user_once_whatever_the_day(store_url: str) -> None:
    store = Store(store_url)
    with store.begin() as conn:
        store.upsert_papers(conn, [paper("2511.00001"), paper("2511.00002")])
    e = DigestEntry(1, "2511.00001", 0.9, "r")
    store.save_digest("ann", "2025-11-12", "similarity", [e])
    assert store.shown_papers("ann", ["2511.00001", "2511.00002"]) == {"2511.00001"}
    assert store.shown_papers("bob", ["2511.00001"]) == set()
    with pytest.raises(StoreError):
        store.save_digest("ann", "2025-11-13", "similarity", [e])
    # saving the same day again returns the stored digest, unchanged
    again = store.save_digest("ann", "2025-11-12", "similarity",
                              [DigestEntry(1, "2511.00002", 0.1, "other")])
    assert [x.paper_id for x in again] == ["2511.00001"]


@both_stores
def test_the_author_filter_ignores_case_and_accents_and_takes_symbols_literally(
        store_url: str) -> None:
    store = Store(store_url)
    by = {"2511.00001": ["Jürgen Schölkopf"], "2511.00002": ["ÉMILE ÅSTRÖM", "Hao Liu"],
          "2511.00003": ["50%_off Team"], "2511.00004": ["5000 Office"],
          "2511.00005": ["Nguyễn Văn An"], "2511.00006": ["Ἀλέξανδρος Παπαδόπουλος"],
          "2511.00007": ["Алёна Йовович"], "2511.00008": ["ΓΙΩΡΓΟΣ ΠΑΠΑΔΟΠΟΥΛΟΣ"]}
    with store.begin() as conn:
        store.upsert_papers(conn, [Paper(pid, f"T {pid}", "a", names) for pid, names in
                                   by.items()])
    found = {a: store.matching_ids(Filters(author=a)) for a in
             ("jurgen scholkopf", "Schölkopf", "émile åström", "EMILE", "50%_off", "5_%",
              "nguyen van", "ΑΛΕΞΑΝΔΡΟΣ παπαδοπουλος", "алена иовович",
              "Γιώργος Παπαδόπουλος", "\u0301", "  ")}
    assert found == {"jurgen scholkopf": {"2511.00001"}, "Schölkopf": {"2511.00001"},
                     "émile åström": {"2511.00002"}, "EMILE": {"2511.00002"},
                     "50%_off": {"2511.00003"}, "5_%": set(), "nguyen van": {"2511.00005"},
                     "ΑΛΕΞΑΝΔΡΟΣ παπαδοπουλος": {"2511.00006"},
                     "алена иовович": {"2511.00007"},
                     # a final sigma typed 'ς' finds a name stored in capitals ('Σ')
                     "Γιώργος Παπαδόπουλος": {"2511.00008"},
                     # a lone accent names no one; a blank field filters nothing
                     "\u0301": set(), "  ": set(by)}


@both_stores
def test_profile_version_moves_only_on_change(store_url: str) -> None:
    store = Store(store_url)
    assert store.save_profile("ann", "d", ["k"], []).version == 1
    assert store.save_profile("ann", "d", ["k"], []).version == 1
    assert store.save_profile("ann", "d2", ["k"], []).version == 2


@both_stores
def test_library_resync_neither_duplicates_nor_keeps_removed(store_url: str) -> None:
    store = Store(store_url)
    store.sync_library("ann", "config", ["2511.00001", "2511.00002", "2511.00001"])
    store.sync_library("ann", "config", ["2511.00002", "2511.00003"])
    assert sorted(e.paper_id for e in store.library("ann")) == ["2511.00002", "2511.00003"]


def test_a_password_in_the_store_url_stays_out_of_errors() -> None:
    """A dead PostgreSQL endpoint: one line naming the fix, and the password shown as ***."""
    res = CliRunner().invoke(main, ["runs"], env={
        "PAPERSIFT_STORE_URL": "postgresql://bob:s3cret-pw@127.0.0.1:1/papers"})
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1, res.output
    assert "cannot reach the database server" in res.output and "start it" in res.output
    assert "s3cret-pw" not in res.output and "bob:***@127.0.0.1" in res.output


def test_unknown_database_or_user_on_postgresql(pg_cluster: PgCluster) -> None:
    base = pg_cluster.url("postgres")
    for url, msg in ((base.rsplit("/", 1)[0] + "/nosuchdb", "createdb"),
                     (base.replace("papersift@", "nobody:pw@"), "refused to log in")):
        with pytest.raises(StoreError, match=msg) as e:
            Store(url)
        assert ":pw@" not in str(e.value)

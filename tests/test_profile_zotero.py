"""Zotero: a real zotero.sqlite (Zotero's own table layout) and the Web API through pyzotero
against a local HTTP server replaying Zotero API responses."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from papersift.cli import main
from papersift.errors import ProfileError
from papersift.profile.sources import user_zotero_key_file
from papersift.profile.zotero import read_zotero_sqlite, read_zotero_web
from papersift.rank.embed import MiniLM
from papersift.records import Paper
from papersift.store import Store
from tests.pg import store_like
from tests.test_web_app import csrf_of, sign_in
from tests.web_fixtures import ANN, BOB, PASSWORDS, make_web

# The tables papersift reads, as Zotero 7 creates them (resource/schema/userdata.sql).
ZOTERO_DDL = """
CREATE TABLE libraries (libraryID INTEGER PRIMARY KEY, type TEXT NOT NULL,
  editable INT NOT NULL, filesEditable INT NOT NULL, version INT NOT NULL DEFAULT 0,
  storageVersion INT NOT NULL DEFAULT 0, lastSync INT NOT NULL DEFAULT 0,
  archived INT NOT NULL DEFAULT 0);
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT,
  templateItemTypeID INT, display INT DEFAULT 1);
CREATE TABLE customItemTypes (customItemTypeID INTEGER PRIMARY KEY, typeName TEXT,
  label TEXT, display INT DEFAULT 1, icon TEXT);
CREATE VIEW itemTypesCombined AS SELECT itemTypeID, typeName, display, 0 AS custom
  FROM itemTypes UNION SELECT customItemTypeID, typeName, display, 1 AS custom
  FROM customItemTypes;
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE customFields (customFieldID INTEGER PRIMARY KEY, fieldName TEXT, label TEXT);
CREATE VIEW fieldsCombined AS SELECT fieldID, fieldName, NULL AS label, fieldFormatID,
  0 AS custom FROM fields UNION SELECT customFieldID, fieldName, label, NULL, 1 AS custom
  FROM customFields;
CREATE TABLE items (itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
  dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL,
  key TEXT NOT NULL, version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
  UNIQUE (libraryID, key),
  FOREIGN KEY (libraryID) REFERENCES libraries(libraryID) ON DELETE CASCADE);
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID),
  FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE,
  FOREIGN KEY (fieldID) REFERENCES fieldsCombined(fieldID),
  FOREIGN KEY (valueID) REFERENCES itemDataValues(valueID));
CREATE TABLE itemNotes (itemID INTEGER PRIMARY KEY, parentItemID INT, note TEXT, title TEXT,
  FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE);
CREATE TABLE itemAttachments (itemID INTEGER PRIMARY KEY, parentItemID INT, linkMode INT,
  contentType TEXT, charsetID INT, path TEXT, syncState INT DEFAULT 0,
  FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE);
CREATE TABLE collections (collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL,
  parentCollectionID INT DEFAULT NULL,
  clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL,
  key TEXT NOT NULL, version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
  UNIQUE (libraryID, key),
  FOREIGN KEY (libraryID) REFERENCES libraries(libraryID) ON DELETE CASCADE,
  FOREIGN KEY (parentCollectionID) REFERENCES collections(collectionID) ON DELETE CASCADE);
CREATE TABLE collectionItems (collectionID INT NOT NULL, itemID INT NOT NULL,
  orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (collectionID, itemID),
  FOREIGN KEY (collectionID) REFERENCES collections(collectionID) ON DELETE CASCADE,
  FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE);
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY,
  dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL,
  FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE);
"""

ITEM_TYPES = {1: "annotation", 2: "attachment", 3: "book", 11: "conferencePaper",
              22: "journalArticle", 28: "note", 30: "preprint"}
FIELDS = {1: "title", 2: "abstractNote", 13: "url", 16: "extra", 59: "DOI",
          121: "archiveID", 8: "publicationTitle"}

# (key, type, fields, collections, trashed)
ITEMS = [
    ("PRE1", "preprint", {"title": "Mamba", "archiveID": "arXiv:2312.00752",
                          "url": "http://arxiv.org/abs/2312.00752"}, ["LLM"], False),
    ("JOUR", "journalArticle", {"title": "Attention", "url": "https://arxiv.org/abs/1706.03762v7"},
     ["Long context"], False),
    ("CONF", "conferencePaper", {"title": "PaLM 2", "DOI": "10.48550/arXiv.2305.10403"}, [],
     False),
    ("EXTR", "journalArticle", {"title": "Mixtral", "extra": "arXiv: 2401.04088\ntex.x: y"},
     ["LLM"], False),
    ("BOOK", "book", {"title": "Ring Attention with Blockwise Transformers for Near-Infinite "
                               "Context"}, ["LLM"], False),
    ("VIS1", "preprint", {"title": "ViT", "archiveID": "arXiv:2010.11929"}, ["Vision"], False),
    ("ATT1", "attachment", {"title": "Full Text PDF", "url": "https://arxiv.org/pdf/2402.00001"},
     ["LLM"], False),
    ("NOTE", "note", {}, ["LLM"], False),
    ("TRSH", "preprint", {"title": "Trashed", "archiveID": "arXiv:2403.00001"}, ["LLM"], True),
]


def make_zotero_db(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(ZOTERO_DDL)
    db.execute("INSERT INTO libraries VALUES (1, 'user', 1, 1, 0, 0, 0, 0)")
    db.executemany("INSERT INTO itemTypes VALUES (?, ?, NULL, 1)", ITEM_TYPES.items())
    db.executemany("INSERT INTO fields VALUES (?, ?, NULL)", FIELDS.items())
    colls = {"LLM": (1, None), "Long context": (2, 1), "Vision": (3, None)}
    for name, (cid, parent) in colls.items():
        db.execute("INSERT INTO collections (collectionID, collectionName, parentCollectionID,"
                   " libraryID, key) VALUES (?, ?, ?, 1, ?)", (cid, name, parent, f"C{cid}"))
    types = {v: k for k, v in ITEM_TYPES.items()}
    fields = {v: k for k, v in FIELDS.items()}
    for item_id, (key, kind, data, in_colls, trashed) in enumerate(ITEMS, 1):
        db.execute("INSERT INTO items (itemID, itemTypeID, libraryID, key) VALUES (?, ?, 1, ?)",
                   (item_id, types[kind], key))
        for name, value in data.items():
            db.execute("INSERT OR IGNORE INTO itemDataValues (value) VALUES (?)", (value,))
            vid = db.execute("SELECT valueID FROM itemDataValues WHERE value = ?",
                             (value,)).fetchone()[0]
            db.execute("INSERT INTO itemData VALUES (?, ?, ?)", (item_id, fields[name], vid))
        for c in in_colls:
            db.execute("INSERT INTO collectionItems VALUES (?, ?, 0)", (colls[c][0], item_id))
        if kind == "attachment":
            db.execute("INSERT INTO itemAttachments (itemID, parentItemID, linkMode) "
                       "VALUES (?, 1, 1)", (item_id,))
        if kind == "note":
            db.execute("INSERT INTO itemNotes VALUES (?, 1, '<p>arXiv:2404.00001</p>', 'n')",
                       (item_id,))
        if trashed:
            db.execute("INSERT INTO deletedItems (itemID) VALUES (?)", (item_id,))
    db.commit()
    db.close()
    return path


ALL_IDS = ["2312.00752", "1706.03762", "2305.10403", "2401.04088", "2010.11929"]
RING_TITLE = "Ring Attention with Blockwise Transformers for Near-Infinite Context"


def test_sqlite_papers_only_not_attachments_notes_or_trash(tmp_path: Path) -> None:
    got = read_zotero_sqlite(make_zotero_db(tmp_path / "zotero.sqlite"))
    assert sorted(got.ids) == sorted(ALL_IDS)
    assert got.titles == [RING_TITLE]
    assert got.entries == 6


def test_sqlite_collections_include_subcollections_and_exclude(tmp_path: Path) -> None:
    db = make_zotero_db(tmp_path / "zotero.sqlite")
    got = read_zotero_sqlite(db, include=["llm"])
    assert sorted(got.ids) == ["1706.03762", "2312.00752", "2401.04088"]  # + Long context
    assert got.titles == [RING_TITLE]
    got = read_zotero_sqlite(db, exclude=["Vision"])
    assert "2010.11929" not in got.ids and len(got.ids) == 4
    with pytest.raises(ProfileError, match=r"no Zotero collection named 'Robots'.*"
                                           r"LLM, Long context, Vision\): fix the names on your "
                                           r"profile page or in zotero.collections"):
        read_zotero_sqlite(db, include=["Robots"])


def test_sqlite_locked_by_a_running_zotero_is_read_from_a_copy(tmp_path: Path) -> None:
    db = make_zotero_db(tmp_path / "zotero.sqlite")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    zotero = sqlite3.connect(db)  # Zotero holds an exclusive lock while it runs
    zotero.execute("PRAGMA locking_mode = EXCLUSIVE")
    zotero.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(db, timeout=0.1).execute("SELECT count(*) FROM items").fetchone()
        got = read_zotero_sqlite(db)
    finally:
        zotero.rollback()
        zotero.close()
    assert sorted(got.ids) == sorted(ALL_IDS)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # never written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zotero.sqlite"]


def test_sqlite_corrupt_or_foreign_files_are_one_line_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "zotero.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16)
    with pytest.raises(ProfileError, match=r"^Zotero database .* is unreadable \(.*\): is it "
                                           r"really zotero.sqlite\?"):
        read_zotero_sqlite(corrupt)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ProfileError, match=r"is not a Zotero database \(no collectionItems"):
        read_zotero_sqlite(other)
    with pytest.raises(ProfileError, match="does not exist"):
        read_zotero_sqlite(tmp_path / "missing.sqlite")


def test_profile_add_zotero_sqlite_resyncs(tmp_path: Path) -> None:
    db = make_zotero_db(tmp_path / "zotero.sqlite")
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = Store(url)
    with store.begin() as conn:
        store.upsert_papers(conn, [Paper("2310.01889", RING_TITLE, "…", ["Hao Liu"], ["cs.CL"])])
    env = {"PAPERSIFT_STORE_URL": url, "PAPERSIFT_ARXIV_OFFLINE": "1",
           "PAPERSIFT_ZOTERO_EXCLUDE_COLLECTIONS": "Vision"}
    r = CliRunner().invoke(main, ["profile", "add", "--user", "ana", str(db)], env=env)
    assert r.exit_code == 0, r.stderr
    assert "5 entries → 5 papers (+5 new, −0 gone); 1 matched by title" in r.stdout
    con = sqlite3.connect(db)  # the user trashes a paper in Zotero
    con.execute("INSERT INTO deletedItems (itemID) VALUES (1)")
    con.commit()
    con.close()
    r = CliRunner().invoke(main, ["profile", "sync", "--user", "ana"], env=env)
    assert r.exit_code == 0, r.stderr
    assert "(+0 new, −1 gone)" in r.stdout
    assert "2312.00752" not in {e.paper_id for e in store.library("ana")}
    assert store.library("default") == []  # users never mix


# --- Web API ---------------------------------------------------------------------------------


def api_item(key: str, kind: str, data: dict, colls: list[str]) -> dict:
    return {"key": key, "version": 7, "library": {"type": "user", "id": 475425},
            "data": {"key": key, "version": 7, "itemType": kind, "collections": colls,
                     "tags": [], "relations": {}, **data}}


class ZoteroAPI:
    """Replays Zotero API v3 responses: paged JSON with Link headers, 403 for a bad key."""

    def __init__(self, key: str = "secret", page: int = 2) -> None:
        colls = {"LLM": "C1", "Long context": "C2", "Vision": "C3"}
        self.collections = [
            {"key": "C1", "version": 3, "data": {"key": "C1", "name": "LLM",
                                                 "parentCollection": False}},
            {"key": "C2", "version": 3, "data": {"key": "C2", "name": "Long context",
                                                 "parentCollection": "C1"}},
            {"key": "C3", "version": 3, "data": {"key": "C3", "name": "Vision",
                                                 "parentCollection": False}}]
        self.items = [api_item(k, kind, data, [colls[c] for c in cs])
                      for k, kind, data, cs, trashed in ITEMS if not trashed]
        self.key, self.page = key, page
        self.seen: list[tuple[str, dict, str | None]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                api.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        u = urlparse(h.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        self.seen.append((u.path, q, h.headers.get("Authorization")))
        if h.headers.get("Authorization") != f"Bearer {self.key}":
            return self.send(h, 403, b"Forbidden", {})
        if u.path == "/users/475425/collections":
            rows = self.collections
        elif u.path == "/users/475425/items/top":
            rows = self.items
        else:
            return self.send(h, 404, b"Not found", {})
        start = int(q.get("start", 0))
        limit = min(int(q.get("limit", 25)), self.page)
        headers = {"Total-Results": str(len(rows))}
        if start + limit < len(rows):
            headers["Link"] = (f'<{self.url}{u.path}?limit={limit}&start={start + limit}>; '
                               'rel="next"')
        self.send(h, 200, json.dumps(rows[start:start + limit]).encode(), headers)

    def send(self, h: BaseHTTPRequestHandler, status: int, body: bytes,
             headers: dict[str, str]) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
        h.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)


@pytest.fixture
def zotero_api() -> Iterator[ZoteroAPI]:
    api = ZoteroAPI()
    thread = threading.Thread(target=api.httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield api
    api.httpd.shutdown()
    api.httpd.server_close()


def test_web_api_pages_through_the_library(zotero_api: ZoteroAPI) -> None:
    got = read_zotero_web("user/475425", "secret", zotero_api.url)
    assert sorted(got.ids) == sorted(ALL_IDS)
    assert got.titles == [RING_TITLE]
    pages = [q.get("start", "0") for p, q, _ in zotero_api.seen if p.endswith("/items/top")]
    assert pages == ["0", "2", "4", "6"]  # 7 top-level rows, 2 per page
    got = read_zotero_web("user/475425", "secret", zotero_api.url, include=["LLM"],
                          exclude=["Long context"])
    assert sorted(got.ids) == ["2312.00752", "2401.04088"]


def test_web_api_key_without_permission(zotero_api: ZoteroAPI, tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"^Zotero user library 475425 refused access "
                                           r"\(401/403\): give an API key with read access"):
        read_zotero_web("user/475425", "wrong", zotero_api.url)
    env = {"PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}",
           "PAPERSIFT_ARXIV_OFFLINE": "1", "PAPERSIFT_ZOTERO_API_URL": zotero_api.url,
           "PAPERSIFT_ZOTERO_API_KEY": "wrong"}
    r = CliRunner().invoke(main, ["profile", "add", "zotero://user/475425"], env=env)
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "refused access" in r.stderr
    assert "wrong" not in r.stderr  # the key never reaches the output
    keyfile = tmp_path / "zotero.key"
    keyfile.write_text("secret\n")
    keyfile.chmod(0o600)
    del env["PAPERSIFT_ZOTERO_API_KEY"]
    r = CliRunner().invoke(main, ["profile", "add", "zotero://user/475425"],
                           env={**env, "PAPERSIFT_ZOTERO_API_KEY_FILE": str(keyfile)})
    assert r.exit_code == 0, r.stderr
    assert "zotero://user/475425: 6 entries → 5 papers" in r.stdout


def test_web_api_unreachable_or_malformed_library(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="must be user/<number> or group/<number>"):
        read_zotero_web("me", None, "http://127.0.0.1:9")
    with pytest.raises(ProfileError, match=r"^cannot read Zotero group library 1 from "
                                           r"http://127.0.0.1:9 \(.*\): check the network"):
        read_zotero_web("group/1", None, "http://127.0.0.1:9")


# --- whose key reads a Zotero library --------------------------------------------------------


def test_lab_users_never_read_zotero_with_the_servers_key(
        zotero_api: ZoteroAPI, tmp_path: Path, web_store_file: Path, embedder: MiniLM,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a lab server the configured key is the admin's: another user naming the admin's
    private library must be refused, and reads it only with a key of their own."""
    monkeypatch.setenv("PAPERSIFT_ZOTERO_API_KEY", "secret")  # the admin's (ann's) key
    web = make_web(tmp_path, store_like(web_store_file, tmp_path), embedder, accounts=True,
                   extra=f'[zotero]\napi_url = "{zotero_api.url}"\n')
    lib = "zotero://user/475425"

    def add(user: str, key: str = "") -> tuple[int, str]:
        c = web.client()
        assert sign_in(c, user, PASSWORDS[user]) == 303
        r = c.post("/profile/zotero", data={"library": lib, "key": key, "csrf": csrf_of(c)})
        return r.status_code, r.text

    status, text = add(BOB)
    assert status == 400 and "refused access" in text
    assert zotero_api.seen[-1][2] is None  # bob's request carried no key at all
    assert add(BOB, "wrong")[0] == 400
    assert not user_zotero_key_file(BOB).exists()  # a refused key is not kept
    status, text = add(BOB, "secret")
    assert status == 200 and "6 entries → 5 papers" in text and "secret" not in text
    assert user_zotero_key_file(BOB).stat().st_mode & 0o777 == 0o600
    assert add(BOB, "wrong")[0] == 400
    assert user_zotero_key_file(BOB).read_text().strip() == "secret"  # the good one stays
    assert "6 entries → 5 papers" in add(ANN)[1]  # the config's own user uses the config key

    # bob's own collection filters, kept for his re-syncs; a wrong name changes nothing
    c = web.client()
    assert sign_in(c, BOB, PASSWORDS[BOB]) == 303
    r = c.post("/profile/zotero", data={"library": lib, "collections": "LLM",
                                        "exclude": "Long context", "csrf": csrf_of(c)})
    assert r.status_code == 200
    bob = {e.paper_id for e in web.store.library(BOB) if e.source.startswith("zotero")}
    assert bob == {"2312.00752", "2401.04088"}
    assert 'value="LLM"' in c.get("/profile").text
    r = c.post("/profile/zotero", data={"library": lib, "collections": "Typo",
                                        "csrf": csrf_of(c)})
    assert r.status_code == 400 and "no Zotero collection named" in r.text and "Typo" in r.text
    assert web.store.terms(BOB, "zotero-collection") == ["LLM"]
    assert web.store.terms(BOB, "zotero-exclude") == ["Long context"]
    assert len([e for e in web.store.library(ANN) if e.source.startswith("zotero")]) == 5
    web.store.close()

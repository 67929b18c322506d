"""Zotero libraries: the Web API (pyzotero) and a local zotero.sqlite.

Both honour the collections to include or exclude (by name, with their subcollections);
attachments, notes, annotations and trashed items are never papers.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from papersift.errors import ProfileError
from papersift.profile.arxiv_ids import record_id
from papersift.profile.bibfiles import clean_title
from papersift.profile.imported import Imported

NOT_PAPERS = {"attachment", "note", "annotation"}


def _collections(parents: Mapping[str, str | None], names: Mapping[str, str],
                 include: Iterable[str], exclude: Iterable[str],
                 where: str) -> tuple[set[str] | None, set[str]]:
    """Collection ids to keep (None: all) and to drop, each with its subcollections."""
    by_name: dict[str, list[str]] = {}
    for cid, name in names.items():
        by_name.setdefault(name.casefold(), []).append(cid)

    def expand(wanted: Iterable[str], what: str) -> set[str]:
        roots: set[str] = set()
        for name in wanted:
            if name.casefold() not in by_name:
                known = ", ".join(sorted(names.values())[:10]) or "none"
                raise ProfileError(f"no Zotero collection named {name!r} in {where} "
                                   f"(collections: {known}): fix the names on your profile "
                                   f"page or in zotero.{what}")
            roots |= set(by_name[name.casefold()])
        out = set(roots)
        changed = True
        while changed:  # add subcollections until nothing new
            new = {c for c, p in parents.items() if p in out and c not in out}
            out |= new
            changed = bool(new)
        return out

    keep = expand(include, "collections") if include else None
    return keep, expand(exclude, "exclude_collections")


def _select(out: Imported, items: Iterable[tuple[Mapping[str, object], set[str]]],
            keep: set[str] | None, drop: set[str], where: str) -> Imported:
    for fields, colls in items:
        if (keep is not None and not colls & keep) or colls & drop:
            continue
        out.entries += 1
        if pid := record_id(fields):
            out.ids.append(pid)
        elif isinstance(title := fields.get("title"), str) and clean_title(title):
            out.titles.append(clean_title(title))
        else:
            out.warnings.append(f"{where}: item {fields.get('key', '?')} has no arXiv id and "
                                "no title: skipped")
    return out


# --- local zotero.sqlite --------------------------------------------------------------------


def read_zotero_sqlite(path: Path, include: Iterable[str] = (),
                       exclude: Iterable[str] = ()) -> Imported:
    """Read a copy: Zotero keeps its database locked while it runs, and we never write."""
    if not path.is_file():
        raise ProfileError(f"Zotero database {path} does not exist: it is zotero.sqlite in "
                           "your Zotero data directory (Zotero → Settings → Advanced → Files)")
    with tempfile.TemporaryDirectory(prefix="papersift-zotero-") as tmp:
        copy = Path(tmp) / "zotero.sqlite"
        try:
            shutil.copyfile(path, copy)
            for suffix in ("-journal", "-wal"):  # a hot journal belongs to the database
                if (side := path.with_name(path.name + suffix)).exists():
                    shutil.copyfile(side, copy.with_name(copy.name + suffix))
        except OSError as e:
            raise ProfileError(f"cannot copy Zotero database {path}: {e.strerror}; check its "
                               "permissions") from None
        conn = sqlite3.connect(copy)
        try:
            return _read_db(conn, path, include, exclude)
        except sqlite3.DatabaseError as e:
            raise ProfileError(f"Zotero database {path} is unreadable ({e}): is it really "
                               "zotero.sqlite? Zotero keeps backups as zotero.sqlite.bak") \
                from None
        finally:
            conn.close()


def _read_db(conn: sqlite3.Connection, path: Path, include: Iterable[str],
             exclude: Iterable[str]) -> Imported:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    needed = {"items", "itemData", "itemDataValues", "collections", "collectionItems"}
    if missing := needed - tables:
        raise ProfileError(f"{path} is not a Zotero database (no {', '.join(sorted(missing))} "
                           "table): give the zotero.sqlite of your Zotero data directory")
    # Zotero 5+ lists built-in and custom fields/types together in the *Combined views.
    fields = "fieldsCombined" if "fieldsCombined" in tables else "fields"
    types = "itemTypesCombined" if "itemTypesCombined" in tables else "itemTypes"
    deleted = "SELECT itemID FROM deletedItems" if "deletedItems" in tables else "SELECT NULL"
    items: dict[int, dict[str, object]] = {}
    rows = conn.execute(
        f"SELECT i.itemID, i.key, t.typeName, f.fieldName, v.value FROM items i "
        f"JOIN {types} t ON t.itemTypeID = i.itemTypeID "
        f"LEFT JOIN itemData d ON d.itemID = i.itemID "
        f"LEFT JOIN {fields} f ON f.fieldID = d.fieldID "
        f"LEFT JOIN itemDataValues v ON v.valueID = d.valueID "
        f"WHERE i.itemID NOT IN ({deleted})")
    for item_id, key, type_name, field, value in rows:
        if type_name in NOT_PAPERS:
            continue
        rec = items.setdefault(item_id, {"key": key})
        if field is not None and isinstance(value, str):
            rec[field] = value
    names = {str(c): n for c, n in conn.execute(
        "SELECT collectionID, collectionName FROM collections")}
    parents = {str(c): (str(p) if p is not None else None) for c, p in conn.execute(
        "SELECT collectionID, parentCollectionID FROM collections")}
    member: dict[int, set[str]] = {}
    for cid, iid in conn.execute("SELECT collectionID, itemID FROM collectionItems"):
        member.setdefault(iid, set()).add(str(cid))
    keep, drop = _collections(parents, names, include, exclude, str(path))
    return _select(Imported(), ((rec, member.get(i, set())) for i, rec in items.items()),
                   keep, drop, str(path))


# --- Zotero Web API -------------------------------------------------------------------------


def read_zotero_web(library: str, api_key: str | None, api_url: str,
                    include: Iterable[str] = (), exclude: Iterable[str] = ()) -> Imported:
    """`library` is `user/<id>` or `group/<id>` (the number in zotero.org/settings/keys)."""
    import httpx
    from pyzotero import zotero, zotero_errors

    kind, _, lib_id = library.partition("/")
    if kind not in ("user", "group") or not lib_id.isdigit():
        raise ProfileError(f"Zotero library {library!r} must be user/<number> or "
                           "group/<number>: your user id is on zotero.org/settings/keys")
    where = f"Zotero {kind} library {lib_id}"
    zot = zotero.Zotero(lib_id, kind, api_key)
    zot.endpoint = api_url.rstrip("/")
    try:
        colls = zot.everything(zot.collections(limit=100))
        items = zot.everything(zot.top(limit=100))
    except zotero_errors.UserNotAuthorisedError:
        raise ProfileError(f"{where} refused access (401/403): give an API key with read "
                           "access to it (zotero.org/settings/keys) on your profile page, or "
                           "for the config's user in PAPERSIFT_ZOTERO_API_KEY or "
                           "zotero.api_key_file") from None
    except zotero_errors.ResourceNotFoundError:
        raise ProfileError(f"{where} does not exist at {api_url}: check the id") from None
    except (zotero_errors.PyZoteroError, httpx.HTTPError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ProfileError(f"cannot read {where} from {api_url} ({first}): check the "
                           "network and zotero.api_url, then rerun") from None
    finally:
        zot.client.close()
    names = {c["key"]: c["data"]["name"] for c in colls}
    parents = {c["key"]: c["data"].get("parentCollection") or None for c in colls}
    keep, drop = _collections(parents, names, include, exclude, where)
    records = []
    for item in items:
        data = item.get("data", {})
        if data.get("itemType") in NOT_PAPERS or data.get("deleted"):
            continue
        records.append(({"key": item.get("key"), **data}, set(data.get("collections", []))))
    return _select(Imported(), records, keep, drop, where)

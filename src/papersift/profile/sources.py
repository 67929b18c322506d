"""`papersift profile add SOURCE`: read a source, resolve its entries to arXiv papers and
store them as that source's part of the library, in one transaction (re-sync safe)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from papersift.config import Settings, xdg_data_home
from papersift.errors import PapersiftError, ProfileError, SourceError
from papersift.profile.bibfiles import read_bibtex, read_id_list, read_ris
from papersift.profile.imported import Imported
from papersift.profile.notes import SUFFIXES as NOTE_SUFFIXES
from papersift.profile.notes import read_notes
from papersift.profile.zotero import read_zotero_sqlite, read_zotero_web
from papersift.records import normalize_id
from papersift.store import Store
from papersift.wording import counted

CLI_IDS = "ids:cli"  # ids given on the command line: they accumulate
MAX_TITLE_LOOKUPS = 100  # arXiv asks for 3 s between requests: 5 minutes at most per import
ZOTERO_WEB = "zotero://"
ZOTERO_INCLUDE, ZOTERO_EXCLUDE = "zotero-collection", "zotero-exclude"  # profile term kinds

Log = Callable[[str], None]


@dataclass(frozen=True)
class Source:
    kind: str  # bibtex | ris | ids | notes | zotero-sqlite | zotero-web
    location: str  # what the user gave, made absolute for files

    @property
    def key(self) -> str:
        if self.kind == "ids" and self.location == "cli":
            return CLI_IDS
        return f"{self.kind}:{hashlib.sha1(self.location.encode()).hexdigest()[:8]}"


@dataclass
class AddReport:
    source: Source
    entries: int = 0
    papers: int = 0
    added: int = 0
    removed: int = 0
    by_title: int = 0
    unresolved: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    described: bool = False

    def summary(self) -> str:
        where = "command line" if self.source.key == CLI_IDS else self.source.location
        parts = [f"{where}: {counted(self.entries, 'entry', 'entries')} → "
                 f"{counted(self.papers, 'paper')} "
                 f"(+{self.added} new, −{self.removed} gone)"]
        if self.by_title:
            parts.append(f"{self.by_title} matched by title")
        if self.unresolved:
            parts.append(f"{len(self.unresolved)} not found")
        if self.warnings:
            parts.append(counted(len(self.warnings), "warning"))
        if self.described:
            parts.append("notes prose added to your interest description")
        return "; ".join(parts)


_SUFFIX_KIND = {".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris", ".txt": "ids",
                ".sqlite": "zotero-sqlite", **dict.fromkeys(NOTE_SUFFIXES[:2], "notes")}


def parse_source(spec: str) -> Source:
    """What kind of source `spec` is: a Zotero library, a file or folder by its type."""
    if spec.startswith(ZOTERO_WEB):
        return Source("zotero-web", spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return Source("notes", str(path.resolve()))
    if path.suffix.lower() in _SUFFIX_KIND:
        if not path.exists():
            raise ProfileError(f"{spec} does not exist: check the path")
        return Source(_SUFFIX_KIND[path.suffix.lower()], str(path.resolve()))
    if path.exists():
        raise ProfileError(f"cannot tell what {spec} is: papersift reads .bib, .ris, .txt (ids), "
                           ".md (notes), folders of notes and zotero.sqlite")
    raise ProfileError(f"{spec} is not a file, a folder, an arXiv id/URL or "
                       f"{ZOTERO_WEB}user/<id>: check it")


def zotero_filters(settings: Settings, store: Store, user: str) -> tuple[list[str], list[str]]:
    """Collections to include and exclude: the user's own (set on their profile page), else
    the configured ones (each lab member's Zotero is organised differently)."""
    include, exclude = store.terms(user, ZOTERO_INCLUDE), store.terms(user, ZOTERO_EXCLUDE)
    if include or exclude:
        return include, exclude
    return settings["zotero.collections"], settings["zotero.exclude_collections"]


def read_source(settings: Settings, source: Source, user: str,
                filters: tuple[list[str], list[str]]) -> Imported:
    include, exclude = filters
    path = Path(source.location)
    match source.kind:
        case "bibtex":
            return read_bibtex(path)
        case "ris":
            return read_ris(path)
        case "ids":
            return read_id_list(path)
        case "notes":
            return read_notes(path)
        case "zotero-sqlite":
            return read_zotero_sqlite(path, include, exclude)
        case "zotero-web":
            return read_zotero_web(source.location.removeprefix(ZOTERO_WEB),
                                   zotero_key(settings, user), settings["zotero.api_url"],
                                   include, exclude)
    raise ProfileError(f"unknown source kind {source.kind!r}: remove it with "
                       f"`papersift profile remove {source.location}`")


def user_zotero_key_file(user: str) -> Path:
    """Where a user's own Zotero key is kept (0600), as given on their profile page."""
    return xdg_data_home() / "papersift" / "zotero-keys" / hashlib.sha1(user.encode()).hexdigest()


def save_user_zotero_key(user: str, key: str) -> None:
    path = user_zotero_key_file(user)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
    with os.fdopen(fd, "w") as f:
        f.write(key.strip() + "\n")


def zotero_key(settings: Settings, user: str) -> str | None:
    """The user's own key if they gave one; the configured key only for the config's own
    user: on a lab server it is the admin's, and any user could otherwise name the admin's
    private library and read it with it."""
    try:
        return user_zotero_key_file(user).read_text().strip()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise ProfileError(f"cannot read the Zotero key of {user}: {e.strerror}") from None
    if user != settings["profile.user"]:
        return None  # public libraries need none
    if key := os.environ.get("PAPERSIFT_ZOTERO_API_KEY"):
        return key
    if file := settings["zotero.api_key_file"]:
        try:
            return Path(file).expanduser().read_text().strip()
        except OSError as e:
            raise ProfileError(f"cannot read zotero.api_key_file {file}: {e.strerror}") from None
    return None


def add_source(settings: Settings, store: Store, user: str, source: Source,
               log: Log = lambda _: None, *, search: bool = True) -> AddReport:
    """Import `source` for `user`. Nothing is stored unless the whole source was read.
    Titles missing from the store are searched on arXiv only if `search` (at 3 s a
    request, the daily re-sync leaves that to `profile add`/`profile sync`)."""
    imported = read_source(settings, source, user, zotero_filters(settings, store, user))
    report = AddReport(source, entries=imported.entries, warnings=imported.warnings)
    ids = list(imported.ids)
    if imported.titles or imported.cited:
        found = store.ids_by_title(imported.titles + imported.cited)
        report.by_title = len(set(found.values()) - set(ids))
        ids += [found[t] for t in imported.titles + imported.cited if t in found]
        missing = [t for t in dict.fromkeys(imported.titles) if t not in found]
        if missing and search and not settings["arxiv.offline"]:
            online = _titles_on_arxiv(settings, store, missing, report, log)
            ids += online.values()
            report.by_title += len(online)
            missing = [t for t in missing if t not in online]
        report.unresolved = missing
        if missing:
            shown = "; ".join(repr(t[:50]) for t in missing[:3])
            report.warnings.append(f"{len(missing)} entries without an arXiv id were not found "
                                   f"{'in the store' if settings['arxiv.offline'] else 'on arXiv'}"
                                   f": {shown}{' …' if len(missing) > 3 else ''}")
    ids = list(dict.fromkeys(ids))
    _fetch_missing(settings, store, ids, report, log)
    counts = store.sync_source(user, source.key, source.kind, source.location, ids,
                               text=imported.text, additive=source.key == CLI_IDS)
    report.papers, report.added, report.removed = counts.total, counts.added, counts.removed
    report.described = bool(imported.text)
    return report


def add_ids(settings: Settings, store: Store, user: str, raw: list[str],
            log: Log = lambda _: None) -> AddReport:
    """Ids or abs/pdf URLs from the command line: added to what earlier calls added."""
    ids = [normalize_id(r) for r in raw]
    source = Source("ids", "cli")
    report = AddReport(source, entries=len(ids))
    _fetch_missing(settings, store, ids, report, log)
    counts = store.sync_source(user, source.key, source.kind, "command line", ids,
                               additive=True)
    report.papers, report.added = counts.total, counts.added
    return report


def split_specs(specs: list[str]) -> tuple[list[Source], list[str]]:
    """Command-line arguments: sources (files, folders, Zotero) and bare arXiv ids/URLs."""
    sources, ids = [], []
    for spec in specs:
        path = Path(spec).expanduser()
        if spec.startswith(ZOTERO_WEB) or path.exists() or path.suffix.lower() in _SUFFIX_KIND:
            sources.append(parse_source(spec))
        else:
            try:
                ids.append(normalize_id(spec))
            except PapersiftError:
                parse_source(spec)  # raises the one-line error that says what spec can be
    return sources, ids


def _fetch_missing(settings: Settings, store: Store, ids: list[str], report: AddReport,
                   log: Log) -> None:
    """Look up ids the store lacks, so the next ranking has their text."""
    have = store.get_papers(ids)
    missing = [i for i in ids if i not in have]
    if not missing:
        return
    if settings["arxiv.offline"]:
        report.warnings.append(f"{counted(len(missing), 'paper')} not in the store "
                               "(arxiv.offline): they join the library and are looked up "
                               "when arXiv is allowed")
        return
    from papersift.sources.fetch import fetch

    log(f"looking up {len(missing)} papers on arXiv…")
    try:
        fetch(settings, store, feed=False, ids=missing)
    except SourceError as e:
        report.warnings.append(f"arXiv lookup failed ({e}); the papers stay in the library "
                               "and are looked up again before the next digest")


def _titles_on_arxiv(settings: Settings, store: Store, titles: list[str], report: AddReport,
                     log: Log) -> dict[str, str]:
    from papersift.profile.title_search import search_titles

    todo = titles[:MAX_TITLE_LOOKUPS]
    if len(titles) > len(todo):
        report.warnings.append(f"{len(titles) - len(todo)} titles were not looked up on arXiv "
                               f"(at most {MAX_TITLE_LOOKUPS} per import, 3 s each): add their "
                               "arXiv ids to the file")
    log(f"searching arXiv for {len(todo)} titles…")
    try:
        return search_titles(settings, store, todo)
    except SourceError as e:
        report.warnings.append(f"arXiv title search failed: {e}")
        return {}

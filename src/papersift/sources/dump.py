"""Import an arXiv bulk-metadata JSON-lines file (Kaggle "arxiv-metadata-oai-snapshot")."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path

from papersift.errors import SourceError
from papersift.records import Paper, clean_whitespace, parse_arxiv_id, split_authors
from papersift.store import Store

BATCH = 5000
# Fields stored as text: anything else in them is a malformed record, not a crash.
_TEXT_FIELDS = ("title", "abstract", "authors", "categories", "comments", "journal-ref", "doi",
                "license", "update_date")


@dataclass
class BadLine:
    line: int
    reason: str


@dataclass
class ImportReport:
    papers: int = 0
    listings: int = 0
    bad: list[BadLine] = field(default_factory=list)


def to_day(stamp: str | None) -> str | None:
    """YYYY-MM-DD from an RFC 2822 date (arXiv's "Thu, 26 Mar 2009 00:00:00 GMT") or ISO."""
    if not stamp:
        return None
    try:
        return parsedate_to_datetime(stamp).date().isoformat()
    except (TypeError, ValueError):
        return stamp[:10] if len(stamp) >= 10 and stamp[4] == "-" else None


def record_to_paper(r: dict) -> Paper:
    """One bulk-metadata record → Paper. Raises ValueError naming what is wrong."""
    if not isinstance(r, dict):
        raise ValueError("not a JSON object")
    raw_id = r.get("id")
    if not isinstance(raw_id, str):
        raise ValueError("missing 'id'")
    try:
        pid, _ = parse_arxiv_id(raw_id)
    except Exception:
        raise ValueError(f"invalid arXiv id {raw_id!r}") from None
    for key in _TEXT_FIELDS:
        if not isinstance(r.get(key), str | None):
            raise ValueError(f"'{key}' is not a string")
    title = clean_whitespace(r.get("title"))
    if not title:
        raise ValueError("missing 'title'")
    versions: list[tuple[int, str]] = []
    raw_versions = r.get("versions") or []
    if not isinstance(raw_versions, list):
        raise ValueError("'versions' is not a list")
    for v in raw_versions:
        try:
            created = v.get("created") or ""
            if not isinstance(created, str):
                raise TypeError
            versions.append((int(str(v["version"]).lstrip("v")), created))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ValueError(f"malformed 'versions' entry {v!r}") from None
    versions.sort()
    parsed = r.get("authors_parsed") or []
    if not isinstance(parsed, list) or not all(
            isinstance(a, list) and all(isinstance(x, str) for x in a) for a in parsed):
        raise ValueError("'authors_parsed' is not a list of name lists")
    authors = [" ".join(x for x in (a[1:2] + a[:1] + a[2:]) if x).strip()
               for a in parsed if a] or split_authors(r.get("authors"))
    announced = r.get("announced")
    return Paper(
        id=pid,
        title=title,
        abstract=clean_whitespace(r.get("abstract")),
        authors=authors,
        categories=(r.get("categories") or "").split(),
        comments=clean_whitespace(r.get("comments")) or None,
        journal_ref=r.get("journal-ref"),
        doi=r.get("doi"),
        license=r.get("license"),
        created=to_day(versions[0][1]) if versions else r.get("update_date"),
        updated=r.get("update_date"),
        announced=announced if isinstance(announced, str) and announced else None,
        version=versions[-1][0] if versions else 1,
        versions=versions,
    )


def read_dump(path: Path, report: ImportReport,
              progress: Callable[[int], None] | None = None) -> Iterator[Paper]:
    """Good records in file order; bad ones are noted in `report` with their line number.

    `progress` gets the bytes of the file (compressed, for .gz) consumed so far.
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the `with raw` below
    except OSError as e:
        raise SourceError(f"cannot read dump {path}: {e.strerror}; check the path") from None
    with raw:
        stream = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
        try:
            for n, line in enumerate(text, 1):
                if progress and n % 2000 == 0:
                    progress(raw.tell())
                if not line.strip():
                    report.bad.append(BadLine(n, "empty line"))
                    continue
                try:
                    yield record_to_paper(json.loads(line))
                except json.JSONDecodeError as e:
                    report.bad.append(BadLine(n, f"not JSON ({e.msg})"))
                except ValueError as e:
                    report.bad.append(BadLine(n, str(e)))
        except (OSError, EOFError) as e:
            raise SourceError(f"dump {path} is truncated or not gzip ({e}): download it "
                              "again; nothing was imported") from None
    if progress:
        progress(path.stat().st_size)


def import_dump(store: Store, path: Path,
                progress: Callable[[int], None] | None = None) -> ImportReport:
    """Load every good record in one transaction: a failure leaves the store as it was."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"dump file {path} does not exist: check the path")
    report = ImportReport()
    batch: list[Paper] = []
    with store.begin() as conn:
        def flush() -> None:
            store.upsert_papers(conn, batch)
            days: dict[str, list[tuple[str, str]]] = {}
            for p in batch:
                if p.announced:
                    days.setdefault(p.announced, []).append((p.id, "new"))
            for day, entries in days.items():
                store.add_listings(conn, day, entries)
                report.listings += len(entries)
            report.papers += len(batch)
            batch.clear()

        for paper in read_dump(path, report, progress):
            batch.append(paper)
            if len(batch) >= BATCH:
                flush()
        flush()
    return report

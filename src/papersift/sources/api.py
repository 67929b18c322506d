"""Look papers up by id through the arXiv query API (Atom responses)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from papersift.errors import PapersiftError, SourceError
from papersift.records import Paper, parse_arxiv_id
from papersift.sources.arxiv_xml import ARXIV, ATOM, parse_xml, q, text, texts, to_day
from papersift.sources.http import ArxivClient
from papersift.store import Store

BATCH = 100  # ids per request; arXiv answers at most max_results entries


@dataclass
class LookupReport:
    papers: list[Paper] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # ids arXiv does not know, as given

    def summary(self) -> str:
        if not self.unknown:
            return f"lookup: {len(self.papers)} papers"
        shown = ", ".join(self.unknown[:5]) + (", ..." if len(self.unknown) > 5 else "")
        return f"lookup: {len(self.papers)} papers, {len(self.unknown)} unknown ({shown})"


@dataclass
class AtomPage:
    papers: list[Paper]
    error: str | None = None  # arXiv's message when it refused the whole request


def parse_atom(body: bytes) -> AtomPage:
    """Entries of an API response. arXiv answers a bad id with one entry titled "Error"."""
    entries = parse_xml(body, q(ATOM, "feed")).findall(q(ATOM, "entry"))
    if len(entries) == 1 and "/api/errors" in (text(entries[0], q(ATOM, "id")) or ""):
        return AtomPage([], text(entries[0], q(ATOM, "summary")) or "error")
    return AtomPage([p for e in entries if (p := _entry(e)) is not None])


def _entry(e: ET.Element) -> Paper | None:
    """An entry as a Paper; None for the empty entries arXiv sends for ids it does not know."""
    title = text(e, q(ATOM, "title"))
    try:
        pid, version = parse_arxiv_id(text(e, q(ATOM, "id")) or "")
    except PapersiftError:
        return None
    if not title:
        return None
    published, updated = text(e, q(ATOM, "published")), text(e, q(ATOM, "updated"))
    version = version or 1
    versions = [(1, published)] if published else []
    if version > 1 and updated:
        versions.append((version, updated))
    primary = e.find(q(ARXIV, "primary_category"))
    cats = [c.get("term", "") for c in e.findall(q(ATOM, "category"))]
    first = [primary.get("term", "")] if primary is not None else []
    return Paper(
        id=pid, title=title, abstract=text(e, q(ATOM, "summary")) or "",
        authors=texts(e, f"{q(ATOM, 'author')}/{q(ATOM, 'name')}"),
        categories=[c for c in dict.fromkeys(first + cats) if c],
        comments=text(e, q(ARXIV, "comment")), journal_ref=text(e, q(ARXIV, "journal_ref")),
        doi=text(e, q(ARXIV, "doi")), created=to_day(published), updated=to_day(updated),
        version=version, versions=versions)


def _offender(message: str, batch: list[str]) -> str | None:
    """Which id arXiv's error message ("incorrect id format for 1234.5") is about."""
    words = message.split()
    return next((i for i in batch if words and words[-1] in (i, f"{i}.")), None)


def lookup(client: ArxivClient, api_url: str, ids: Iterable[str], store: Store | None = None,
           progress: Callable[[str], None] | None = None) -> LookupReport:
    """Papers for `ids` (any form parse_arxiv_id reads), stored as they arrive if `store`."""
    report = LookupReport()
    wanted: dict[str, str] = {}  # normalized id -> id as given
    for raw in ids:
        try:
            wanted.setdefault(parse_arxiv_id(raw)[0], raw)
        except PapersiftError:
            report.unknown.append(raw)  # not an id at all: no need to ask arXiv
    pending = list(wanted)
    while pending:
        batch, pending = pending[:BATCH], pending[BATCH:]
        found = _fetch_batch(client, api_url, batch, report, wanted)
        if store is not None and found:
            with store.begin() as conn:
                store.upsert_papers(conn, found)
        if progress:
            progress(f"looked up {len(report.papers)} of {len(wanted)} ids")
    return report


def _ask(client: ArxivClient, api_url: str, batch: list[str]) -> AtomPage:
    params = {"id_list": ",".join(batch), "max_results": str(len(batch))}
    return client.get(api_url, params, parse=parse_atom, what="API response")


def _fetch_batch(client: ArxivClient, api_url: str, batch: list[str], report: LookupReport,
                 wanted: dict[str, str]) -> list[Paper]:
    """Ask for `batch`; ids arXiv rejects or leaves out go to report.unknown."""
    page = _ask(client, api_url, batch)
    while page.error is not None:
        # arXiv fails the whole request for one id it finds malformed: drop it, ask again
        bad = _offender(page.error, batch)
        if bad is None:
            raise SourceError(f"arXiv's API refused the lookup at {api_url} ({page.error}): "
                              "check the ids")
        report.unknown.append(wanted[bad])
        batch = [i for i in batch if i != bad]
        if not batch:
            return []
        page = _ask(client, api_url, batch)
    found = list({p.id: p for p in page.papers if p.id in batch}.values())
    got = {p.id for p in found}
    report.unknown.extend(wanted[i] for i in batch if i not in got)
    report.papers.extend(found)
    return found

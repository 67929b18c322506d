"""Resumable OAI-PMH harvests: ListRecords in the arXiv or arXivRaw metadata format.

Each page's papers and the resumption token for the next page are committed together, so
a harvest killed at any point resumes from the last committed page, losing nothing.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from papersift.errors import SourceError
from papersift.records import Paper, clean_whitespace
from papersift.sources.arxiv_xml import OAI, MalformedXML, parse_xml, q, text, to_day
from papersift.sources.dump import record_to_paper
from papersift.sources.http import ArxivClient
from papersift.store import Store

ARXIV_FORMAT = "http://arxiv.org/OAI/arXiv/"
ARXIV_RAW = "http://arxiv.org/OAI/arXivRaw/"
PREFIXES = ("arXiv", "arXivRaw")
PAGE_HINT = "rerun later; the harvest resumes from the last saved page"
# arXiv's OAI-PMH sets are its groups; every archive outside these belongs to "physics".
_GROUPS = frozenset({"cs", "econ", "eess", "math", "q-bio", "q-fin", "stat"})

Progress = Callable[[str], None]


@dataclass
class OaiPage:
    papers: list[Paper] = field(default_factory=list)
    token: str | None = None  # None on the last page
    deleted: int = 0
    bad: int = 0  # records we could not read (no id or title)
    error: tuple[str, str] | None = None  # (code, message) of an OAI-PMH <error>


@dataclass
class HarvestReport:
    set_spec: str | None
    from_: str | None
    until: str | None
    pages: int = 0
    stored: int = 0  # papers stored by this run
    total: int = 0  # papers stored by the whole harvest, earlier interrupted runs included
    deleted: int = 0
    bad: int = 0
    resumed: bool = False
    restarted: bool = False
    done_before: bool = False

    def summary(self) -> str:
        span = f"{self.from_ or 'start'}..{self.until or 'now'}"
        what = f"OAI-PMH {self.set_spec or 'all sets'} {span}"
        if self.done_before:
            return f"{what}: already harvested ({self.total} papers), nothing to do"
        notes = [n for n, on in (("resumed", self.resumed), ("restarted", self.restarted),
                                 (f"{self.deleted} deleted skipped", self.deleted),
                                 (f"{self.bad} unreadable skipped", self.bad)) if on]
        extra = f" ({', '.join(notes)})" if notes else ""
        return f"{what}: {self.stored} papers in {self.pages} pages{extra}"


def oai_sets(categories: Iterable[str]) -> list[str]:
    """The OAI-PMH sets covering `categories`: cs.CL -> cs, stat.ML -> stat, hep-th -> physics."""
    return sorted({a if (a := c.split(".")[0]) in _GROUPS else "physics" for c in categories})


def parse_page(body: bytes) -> OaiPage:
    root = parse_xml(body, q(OAI, "OAI-PMH"))
    err = root.find(q(OAI, "error"))
    if err is not None:
        return OaiPage(error=(err.get("code", "unknown"), clean_whitespace(err.text)))
    records = root.find(q(OAI, "ListRecords"))
    if records is None:
        raise MalformedXML("no <ListRecords> in the OAI-PMH response")
    page = OaiPage(token=text(records, q(OAI, "resumptionToken")))
    for rec in records.findall(q(OAI, "record")):
        header = rec.find(q(OAI, "header"))
        if header is not None and header.get("status") == "deleted":
            page.deleted += 1
            continue
        try:
            page.papers.append(record_to_paper(_record_dict(rec.find(f"{q(OAI, 'metadata')}/*"))))
        except ValueError:
            page.bad += 1
    return page


def _record_dict(md: ET.Element | None) -> dict:
    """Metadata in either format -> the bulk-dump record schema that record_to_paper reads."""
    if md is None:
        raise ValueError("record without metadata")
    ns = md.tag[1:].split("}")[0]
    r = {k: text(md, q(ns, k)) for k in ("id", "title", "abstract", "categories", "comments",
                                         "journal-ref", "doi", "license")}
    if md.tag == q(ARXIV_RAW, "arXivRaw"):
        r.update(_raw_parts(md))
    elif md.tag == q(ARXIV_FORMAT, "arXiv"):
        r.update(_arxiv_parts(md))
    else:
        raise ValueError(f"unknown metadata format <{md.tag}>")
    return r


def _raw_parts(md: ET.Element) -> dict:
    """arXivRaw: an author string and the full version history."""
    versions = [{"version": v.get("version", ""), "created": text(v, q(ARXIV_RAW, "date")) or ""}
                for v in md.findall(q(ARXIV_RAW, "version"))]
    return {"authors": text(md, q(ARXIV_RAW, "authors")), "versions": versions,
            "update_date": to_day(versions[-1]["created"]) if versions else None}


def _arxiv_parts(md: ET.Element) -> dict:
    """arXiv format: structured authors and v1/latest dates, but no version numbers."""
    ns = ARXIV_FORMAT
    authors = [[text(a, q(ns, part)) or "" for part in ("keyname", "forenames", "suffix")]
               for a in md.findall(f"{q(ns, 'authors')}/{q(ns, 'author')}")]
    created = text(md, q(ns, "created"))
    return {"authors_parsed": authors,
            "versions": [{"version": "v1", "created": created}] if created else [],
            "update_date": text(md, q(ns, "updated")) or created}


def harvest_key(url: str, params: dict[str, str]) -> str:
    """Names one harvest (endpoint + initial request) in the store's harvests table."""
    key = f"oai {url}?{urlencode(sorted(params.items()))}"
    return key if len(key) <= 200 else f"oai {hashlib.sha1(key.encode()).hexdigest()}"


def _check_day(name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        ok = len(value) == 10 and date.fromisoformat(value).isoformat() == value
    except ValueError:
        ok = False
    if not ok:
        raise SourceError(f"OAI-PMH {name} day {value!r} is not a date like 2024-12-01: fix it")


def _initial_params(prefix: str, set_spec: str | None, from_: str | None,
                    until: str | None) -> dict[str, str]:
    if prefix not in PREFIXES:
        raise SourceError(f"unknown OAI-PMH metadata prefix {prefix!r}: use arXiv or arXivRaw")
    _check_day("from", from_)
    _check_day("until", until)
    optional = {"set": set_spec, "from": from_, "until": until}
    return {"verb": "ListRecords", "metadataPrefix": prefix,
            **{k: v for k, v in optional.items() if v}}


def harvest(client: ArxivClient, store: Store, url: str, *, set_spec: str | None = None,
            from_: str | None = None, until: str | None = None, prefix: str = "arXivRaw",
            progress: Progress | None = None) -> HarvestReport:
    """Harvest ListRecords into the store, resuming an interrupted run of the same request.

    A finished harvest with an `until` day is not repeated; an open-ended one is harvested
    again from the start (upserts make that harmless) since new records may have appeared.
    """
    say = progress or (lambda _msg: None)
    params = _initial_params(prefix, set_spec, from_, until)
    key = harvest_key(url, params)
    report = HarvestReport(set_spec, from_, until)
    token = _resume(store.harvest_state(key), report, say)
    if report.done_before:
        return report
    while True:
        request = {"verb": "ListRecords", "resumptionToken": token} if token else params
        page = client.get(url, request, parse=parse_page, what="OAI-PMH page", hint=PAGE_HINT)
        if page.error and page.error[0] == "badResumptionToken" and token and not report.restarted:
            say("arXiv no longer accepts the saved resumption token: restarting the harvest")
            token, report.total, report.restarted = None, 0, True
            continue
        if page.error and page.error[0] != "noRecordsMatch":
            code, message = page.error
            raise SourceError(f"arXiv OAI-PMH error at {url} ({code}: {message}): check the "
                              "from/until days, the set and the metadata prefix")
        _save_page(store, key, params, page, report)
        say(f"OAI-PMH page {report.pages}: {len(page.papers)} papers ({report.total} in all)")
        if not page.token:
            return report
        token = page.token


def _resume(state: dict | None, report: HarvestReport, say: Progress) -> str | None:
    """The saved token to continue from, or None to start afresh; flags a closed harvest
    that already finished as done_before."""
    if state is None:
        return None
    if state["token"] is None and report.until is not None:
        report.done_before, report.total = True, state["records"]
    elif state["token"]:
        report.resumed, report.total = True, state["records"]
        say(f"resuming the OAI-PMH harvest after {report.total} saved papers")
    return state["token"]


def _save_page(store: Store, key: str, params: dict[str, str], page: OaiPage,
               report: HarvestReport) -> None:
    """The page's papers and the token for the next page, in one transaction."""
    with store.begin() as conn:
        store.upsert_papers(conn, page.papers)
        store.save_harvest_state(conn, key, page.token, params, report.total + len(page.papers))
    report.total += len(page.papers)
    report.stored += len(page.papers)
    report.pages += 1
    report.deleted += page.deleted
    report.bad += page.bad

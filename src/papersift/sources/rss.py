"""The daily announcement feed (rss.arxiv.org): what arXiv announced today in some categories."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from papersift.errors import PapersiftError, SourceError
from papersift.records import Paper, clean_whitespace, parse_arxiv_id, split_authors
from papersift.sources.arxiv_xml import ARXIV, DC, MalformedXML, parse_xml, q, text, texts, to_day
from papersift.sources.http import ArxivClient
from papersift.store import Store

# arxiv:announce_type -> listing kind; the daily digest only ever reads new and cross.
KINDS = {"new": "new", "cross": "cross", "replace": "replace", "replace-cross": "replace"}
_PRIORITY = {"new": 0, "cross": 1, "replace": 2}  # a paper listed twice keeps its best kind
_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<kind>\S+)\s*(?:Abstract:\s*)?(?P<abs>.*)$",
    re.DOTALL)


@dataclass
class FeedItem:
    paper: Paper
    kind: str  # new | cross | replace


@dataclass
class Feed:
    day: str | None  # the listing day; None for an empty feed without dates
    items: list[FeedItem]
    skipped: int = 0  # items without a usable id or announce type


@dataclass
class FeedReport:
    categories: list[str]
    day: str | None = None
    new: int = 0
    cross: int = 0
    replace: int = 0
    skipped: int = 0

    @property
    def items(self) -> int:
        return self.new + self.cross + self.replace

    def summary(self) -> str:
        cats = "+".join(self.categories)
        if not self.items:
            return f"feed {cats}: no announcement{f' on {self.day}' if self.day else ''} (0 items)"
        skipped = f", {self.skipped} unreadable skipped" if self.skipped else ""
        return (f"feed {cats} {self.day}: {self.new} new, {self.cross} cross-lists, "
                f"{self.replace} replaced{skipped}")


def feed_url(base: str, categories: Sequence[str]) -> str:
    return f"{base.rstrip('/')}/{'+'.join(categories)}"


def parse_feed(body: bytes) -> Feed:
    channel = parse_xml(body, "rss").find("channel")
    if channel is None:
        raise MalformedXML("no <channel> in the RSS feed")
    elements = channel.findall("item")
    day = to_day(text(channel, "pubDate") or text(channel, "lastBuildDate")
                 or (text(elements[0], "pubDate") if elements else None))
    if elements and day is None:
        raise SourceError("arXiv's feed has items but no date, so the listing day is unknown: "
                          "rerun later")
    best: dict[str, FeedItem] = {}
    skipped = 0
    for el in elements:
        item = _item(el, day)
        if item is None:
            skipped += 1
            continue
        seen = best.get(item.paper.id)
        if seen is None or _PRIORITY[item.kind] < _PRIORITY[seen.kind]:
            best[item.paper.id] = item
    return Feed(day, list(best.values()), skipped)


def _item(el: ET.Element, day: str | None) -> FeedItem | None:
    """One <item>, or None when it names no arXiv id or no known announce type."""
    m = _DESCRIPTION.match(el.findtext("description") or "")
    kind = KINDS.get(text(el, q(ARXIV, "announce_type")) or (m.group("kind") if m else ""))
    raw_id = m.group("id") if m else (text(el, "guid") or "").removeprefix("oai:arXiv.org:")
    title = text(el, "title")
    try:
        pid, version = parse_arxiv_id(raw_id)
    except PapersiftError:
        return None
    if kind is None or not title:
        return None
    paper = Paper(
        id=pid, title=title, abstract=clean_whitespace(m.group("abs") if m else None),
        authors=split_authors(text(el, q(DC, "creator"))), categories=texts(el, "category"),
        doi=text(el, q(ARXIV, "DOI")), journal_ref=text(el, q(ARXIV, "journal_reference")),
        license=text(el, q(DC, "rights")), version=version or 1,
        # a replacement is announced on `day`; a new or cross-listed paper first appears then
        updated=day if kind == "replace" else None,
        announced=day if kind != "replace" else None)
    return FeedItem(paper, kind)


def _worth_storing(item: FeedItem, stored: dict[str, Paper]) -> Paper:
    """The feed's paper, unless the store already has this version with more metadata
    (comments, dates) than a feed item carries: then the stored paper, only newly announced."""
    old = stored.get(item.paper.id)
    if old is None or item.paper.version > old.version:
        return item.paper
    return replace(old, announced=item.paper.announced)


def fetch_feed(client: ArxivClient, store: Store, base_url: str, categories: Sequence[str],
               progress: Callable[[str], None] | None = None) -> FeedReport:
    """Fetch today's feed and store it in one transaction: papers, then their listings."""
    feed = client.get(feed_url(base_url, categories), parse=parse_feed, what="RSS feed")
    counts = Counter(i.kind for i in feed.items)
    report = FeedReport(list(categories), feed.day, counts["new"], counts["cross"],
                        counts["replace"], feed.skipped)
    if feed.items and feed.day:
        stored = store.get_papers([i.paper.id for i in feed.items])
        with store.begin() as conn:
            store.upsert_papers(conn, [_worth_storing(i, stored) for i in feed.items])
            store.add_listings(conn, feed.day, [(i.paper.id, i.kind) for i in feed.items])
    if progress:
        progress(report.summary())
    return report

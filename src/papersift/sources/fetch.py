"""One entry point for `papersift fetch`: the daily feed, an OAI-PMH harvest or an id lookup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from papersift.config import Settings
from papersift.errors import SourceError
from papersift.sources.api import LookupReport, lookup
from papersift.sources.http import ArxivClient
from papersift.sources.oai import HarvestReport, harvest, oai_sets
from papersift.sources.rss import FeedReport, fetch_feed
from papersift.store import Store


@dataclass
class FetchReport:
    feed: FeedReport | None = None
    harvests: list[HarvestReport] = field(default_factory=list)
    lookup: LookupReport | None = None

    def summary(self) -> str:
        """One line for the user, e.g. "feed cs.CL 2024-12-18: 62 new, 54 cross-lists, ..."."""
        parts = [r.summary() for r in (self.feed, *self.harvests, self.lookup) if r is not None]
        return "; ".join(parts) or "nothing to fetch"


def fetch(settings: Settings, store: Store, *, feed: bool = True, oai_from: str | None = None,
          oai_until: str | None = None, ids: list[str] | None = None,
          progress: Callable[[str], None] | None = None,
          client: ArxivClient | None = None) -> FetchReport:
    """Fetch from arXiv into the store.

    Modes: with `ids`, look them up through the API; with `oai_from`, harvest OAI-PMH
    (arXivRaw) for the archives of arxiv.categories from that day (to `oai_until`); both
    may be combined. Otherwise, if `feed`, read today's RSS feed for arxiv.categories.
    `client` lets a caller share one paced client (or tune retries); by default one is made
    from the settings and closed afterwards.
    """
    if oai_until and not oai_from:
        raise SourceError("an OAI-PMH harvest needs a start day: pass oai_from together with "
                          "oai_until")
    categories = settings["arxiv.categories"]
    if not categories and (oai_from or (feed and ids is None)):
        raise SourceError('arxiv.categories is empty: list the categories you follow, e.g. '
                          'categories = ["cs.CL"]')
    own = client is None
    client = client or ArxivClient.from_settings(settings)
    report = FetchReport()
    try:
        if ids is not None:
            report.lookup = lookup(client, settings["arxiv.api_url"], ids, store, progress)
        if oai_from:
            for set_spec in oai_sets(categories):
                report.harvests.append(harvest(
                    client, store, settings["arxiv.oai_url"], set_spec=set_spec,
                    from_=oai_from, until=oai_until, progress=progress))
        if feed and ids is None and not oai_from:
            report.feed = fetch_feed(client, store, settings["arxiv.rss_url"], categories,
                                     progress)
    finally:
        if own:
            client.close()
    return report

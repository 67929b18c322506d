"""The daily RSS feed stored as listings, against a real local server built from real records."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from papersift import config
from papersift.errors import SourceError
from papersift.sources.fetch import fetch
from papersift.sources.http import ArxivClient
from papersift.sources.oai import harvest
from papersift.sources.rss import fetch_feed
from papersift.store import Store
from tests.arxiv_server import DAY1, DAY2, ArxivServer, Fault, revised
from tests.pg import both_stores

pytest_plugins = ["tests.arxiv_fixtures"]

MakeClient = Callable[..., ArxivClient]
Days = dict[str, list[dict]]


def ids_where(records: list[dict], keep: Callable[[list[str]], bool]) -> set[str]:
    return {r["id"] for r in records if keep(r["categories"].split())}


def listed(store: Store, day: str, kind: str) -> set[str]:
    return {p.id for p in store.listing(day, (kind,))}


@both_stores
def test_feed_stores_new_and_cross_listings(arxiv_settings: config.Settings, store_url: str,
                                            arxiv_days: Days) -> None:
    store = Store(store_url)
    new = ids_where(arxiv_days[DAY1], lambda cats: cats[0] == "cs.CL")
    cross = ids_where(arxiv_days[DAY1], lambda cats: "cs.CL" in cats[1:])
    assert new and cross

    report = fetch(arxiv_settings, store).feed

    assert report is not None
    assert (report.day, report.new, report.cross, report.replace) == (DAY1, len(new), len(cross), 0)
    assert report.summary() == (f"feed cs.CL {DAY1}: {len(new)} new, {len(cross)} cross-lists, "
                                "0 replaced")
    assert listed(store, DAY1, "new") == new
    assert listed(store, DAY1, "cross") == cross
    assert store.count_papers() == len(new | cross)
    record = next(r for r in arxiv_days[DAY1] if r["id"] in new)
    paper = store.get_papers([record["id"]])[record["id"]]
    assert (paper.title, paper.abstract, paper.categories) == (
        record["title"], record["abstract"], record["categories"].split())
    assert paper.authors == record["authors"].split(", ")
    assert (paper.announced, paper.version) == (DAY1, 1)
    store.close()


@both_stores
def test_replace_updates_the_paper_without_a_new_listing(
        arxiv_server: ArxivServer, arxiv_settings: config.Settings, store_url: str,
        arxiv_days: Days) -> None:
    store = Store(store_url)
    fetch(arxiv_settings, store)
    # two papers whose primary is cs.CL (replace) and one cross-listed to it (replace-cross)
    old = (sorted(ids_where(arxiv_days[DAY1], lambda cats: cats[0] == "cs.CL"))[:2]
           + sorted(ids_where(arxiv_days[DAY1], lambda cats: "cs.CL" in cats[1:]))[:1])
    arxiv_server.feed_day = DAY2
    arxiv_server.replacements = [revised(r, DAY2) for r in arxiv_days[DAY1] if r["id"] in old]

    report = fetch(arxiv_settings, store).feed

    assert report is not None and (report.day, report.replace) == (DAY2, 3)
    for paper in store.get_papers(old).values():
        assert (paper.version, paper.updated, paper.announced) == (2, DAY2, DAY1)
    assert not set(old) & {p.id for p in store.listing(DAY2)}  # never recommended again
    assert listed(store, DAY2, "replace") == set(old)
    assert set(old) <= {p.id for p in store.listing(DAY1)}  # still listed on DAY1
    store.close()


def test_empty_feed_is_zero_items_not_an_error(arxiv_server: ArxivServer,
                                               arxiv_settings: config.Settings,
                                               arxiv_store: Store) -> None:
    arxiv_server.feed_day = None
    report = fetch(arxiv_settings, arxiv_store)
    assert report.feed is not None and report.feed.items == 0
    assert report.summary() == "feed cs.CL: no announcement (0 items)"
    assert arxiv_store.count_papers() == 0 and arxiv_store.listing_days() == []


def test_fetching_the_same_feed_twice_changes_nothing(arxiv_settings: config.Settings,
                                                      arxiv_store: Store) -> None:
    first = fetch(arxiv_settings, arxiv_store).summary()
    papers, listing = arxiv_store.count_papers(), arxiv_store.listing(DAY1)
    assert fetch(arxiv_settings, arxiv_store).summary() == first
    assert arxiv_store.count_papers() == papers
    assert arxiv_store.listing(DAY1) == listing


def test_feed_keeps_metadata_the_feed_does_not_carry(
        arxiv_server: ArxivServer, arxiv_store: Store, arxiv_days: Days,
        make_client: MakeClient) -> None:
    record = next(r for r in arxiv_days[DAY2] if r["comments"])  # feeds carry no comments
    client = make_client()
    harvest(client, arxiv_store, f"{arxiv_server.url}/oai", set_spec="cs")
    arxiv_server.feed_day = DAY2
    fetch_feed(client, arxiv_store, f"{arxiv_server.url}/rss", record["categories"].split()[:1])
    paper = arxiv_store.get_papers([record["id"]])[record["id"]]
    assert paper.comments == record["comments"]
    assert paper.announced == DAY2


def test_truncated_feed_is_retried_then_fails_leaving_the_store_alone(
        arxiv_server: ArxivServer, arxiv_settings: config.Settings, arxiv_store: Store,
        make_client: MakeClient) -> None:
    arxiv_server.storm("/rss", Fault(cut_xml=True))
    with pytest.raises(SourceError) as e:
        fetch(arxiv_settings, arxiv_store, client=make_client(max_retries=2))
    assert str(e.value).startswith(
        f"arXiv returned a truncated/malformed RSS feed at {arxiv_server.url}/rss/cs.CL")
    assert "\n" not in str(e.value)
    assert len(arxiv_server.requests) == 3
    assert arxiv_store.count_papers() == 0

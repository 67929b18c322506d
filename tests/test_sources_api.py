"""Lookups by id through the query API, against a real local server built from real records."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from papersift import config
from papersift.errors import SourceError
from papersift.sources.api import lookup
from papersift.sources.fetch import fetch
from papersift.sources.http import ArxivClient
from papersift.store import Store
from tests.arxiv_server import DAY1, DAY2, ArxivServer, Fault
from tests.pg import both_stores

pytest_plugins = ["tests.arxiv_fixtures"]

MakeClient = Callable[..., ArxivClient]
Days = dict[str, list[dict]]


@both_stores
def test_lookup_of_valid_and_invalid_ids(arxiv_server: ArxivServer,
                                         arxiv_settings: config.Settings, store_url: str,
                                         arxiv_days: Days) -> None:
    store = Store(store_url)
    a, b, c = [*arxiv_days[DAY1][:2], next(r for r in arxiv_days[DAY2] if r["comments"])]
    asked = [a["id"], f"{b['id']}v1", f"https://arxiv.org/abs/{c['id']}", "2412.99999",
             "not-an-id", "foo/1234567"]

    report = fetch(arxiv_settings, store, ids=asked).lookup

    assert report is not None
    assert sorted(p.id for p in report.papers) == sorted([a["id"], b["id"], c["id"]])
    # malformed locally, refused by arXiv ("incorrect id format"), unknown to arXiv
    assert report.unknown == ["not-an-id", "foo/1234567", "2412.99999"]
    assert report.summary() == "lookup: 3 papers, 3 unknown (not-an-id, foo/1234567, 2412.99999)"
    first, second = (r.query for r in arxiv_server.requests_to("/api/query"))
    assert first["id_list"].split(",") == [a["id"], b["id"], c["id"], "2412.99999", "foo/1234567"]
    assert "foo/1234567" not in second["id_list"] and second["max_results"] == "4"
    stored = store.get_papers([a["id"], b["id"], c["id"]])
    paper = stored[c["id"]]
    assert (paper.title, paper.abstract, paper.comments, paper.categories) == (
        c["title"], c["abstract"], c["comments"], c["categories"].split())
    assert paper.authors == [" ".join(x for x in (n[1], n[0], *n[2:]) if x)
                             for n in c["authors_parsed"]]
    assert (paper.version, paper.created, paper.announced) == (1, DAY2, None)
    store.close()


def test_ids_go_in_batches_of_100(arxiv_server: ArxivServer, arxiv_store: Store,
                                  arxiv_days: Days, make_client: MakeClient) -> None:
    ids = [r["id"] for r in arxiv_days[DAY1][:150]]
    report = lookup(make_client(), f"{arxiv_server.url}/api/query", ids, arxiv_store)
    sizes = [len(r.query["id_list"].split(",")) for r in arxiv_server.requests_to("/api")]
    assert sizes == [100, 50]
    assert [r.query["max_results"] for r in arxiv_server.requests_to("/api")] == ["100", "50"]
    assert len(report.papers) == 150 and report.unknown == []
    assert arxiv_store.count_papers() == 150


def test_only_invalid_ids_ask_nothing(arxiv_server: ArxivServer, arxiv_store: Store,
                                      make_client: MakeClient) -> None:
    report = lookup(make_client(), f"{arxiv_server.url}/api/query", ["nope", "12.34"],
                    arxiv_store)
    assert report.unknown == ["nope", "12.34"] and report.papers == []
    assert arxiv_server.requests == []


def test_api_outage_is_one_line_and_stores_nothing(arxiv_server: ArxivServer,
                                                   arxiv_store: Store, arxiv_days: Days,
                                                   make_client: MakeClient) -> None:
    arxiv_server.storm("/api", Fault(status=503))
    with pytest.raises(SourceError) as e:
        lookup(make_client(max_retries=1), f"{arxiv_server.url}/api/query",
               [arxiv_days[DAY1][0]["id"]], arxiv_store)
    assert str(e.value).startswith(f"arXiv answered HTTP 503 2 times at {arxiv_server.url}/api")
    assert "\n" not in str(e.value)
    assert arxiv_store.count_papers() == 0

"""Resumable OAI-PMH harvests against a real local server built from real records."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from papersift import config
from papersift.errors import SourceError
from papersift.sources.fetch import fetch
from papersift.sources.http import ArxivClient
from papersift.sources.oai import harvest
from papersift.store import Store
from papersift.store import schema as t
from tests.arxiv_server import DAY1, DAY2, ArxivServer, Fault, revised
from tests.pg import both_stores

pytest_plugins = ["tests.arxiv_fixtures"]

MakeClient = Callable[..., ArxivClient]
Days = dict[str, list[dict]]
FROM = "2024-12-01"


@dataclass
class Served:
    """What the server hands out for ListRecords set=cs from=FROM."""

    records: list[dict]  # in serving order, deleted ones included
    deleted: set[str]
    page_size: int

    @property
    def ids(self) -> set[str]:
        return self.first_pages(len(self.records))

    @property
    def pages(self) -> int:
        return math.ceil(len(self.records) / self.page_size)

    def first_pages(self, n: int) -> set[str]:
        return {r["id"] for r in self.records[:n * self.page_size]} - self.deleted


@pytest.fixture
def served(arxiv_server: ArxivServer, arxiv_days: Days) -> Served:
    """Serve DAY1 in pages of 40, two records deleted, two revised."""
    records = list(arxiv_days[DAY1])
    records[0], records[60] = revised(records[0], DAY2), revised(records[60], DAY2)
    arxiv_server.oai_records = records
    arxiv_server.oai_deleted = {records[1]["id"], records[120]["id"]}
    arxiv_server.page_size = 40
    out = Served(arxiv_server.oai_selection("cs", FROM, None), arxiv_server.oai_deleted, 40)
    assert out.pages >= 5
    return out


def stored_ids(store: Store) -> set[str]:
    with store.begin() as conn:
        return set(conn.execute(select(t.papers.c.id)).scalars())


def version_rows(store: Store) -> list[tuple[str, int, str]]:
    with store.begin() as conn:
        return [tuple(r) for r in conn.execute(select(t.versions).order_by(
            t.versions.c.paper_id, t.versions.c.version))]


@pytest.mark.parametrize("prefix", ["arXivRaw", "arXiv"])
def test_harvest_across_pages_stores_exactly_the_served_records(
        arxiv_server: ArxivServer, arxiv_store: Store, arxiv_days: Days, served: Served,
        make_client: MakeClient, prefix: str) -> None:
    report = harvest(make_client(), arxiv_store, f"{arxiv_server.url}/oai", set_spec="cs",
                     from_=FROM, prefix=prefix)

    assert stored_ids(arxiv_store) == served.ids
    assert (report.pages, report.stored, report.deleted) == (served.pages, len(served.ids), 2)
    first, *rest = arxiv_server.requests_to("/oai")
    assert first.query == {"verb": "ListRecords", "metadataPrefix": prefix, "set": "cs",
                           "from": FROM}
    assert len(rest) == served.pages - 1
    assert all(set(r.query) == {"verb", "resumptionToken"} for r in rest)
    record = arxiv_days[DAY1][5]
    paper = arxiv_store.get_papers([record["id"]])[record["id"]]
    assert (paper.title, paper.abstract, paper.categories, paper.created) == (
        record["title"], record["abstract"], record["categories"].split(), DAY1)
    assert paper.authors == [" ".join(x for x in (a[1], a[0], *a[2:]) if x)
                             for a in record["authors_parsed"]]
    assert paper.announced is None  # OAI-PMH does not tell the listing day


def test_arxivraw_carries_the_version_history(arxiv_server: ArxivServer, arxiv_store: Store,
                                              arxiv_days: Days, served: Served,
                                              make_client: MakeClient) -> None:
    harvest(make_client(), arxiv_store, f"{arxiv_server.url}/oai", set_spec="cs", from_=FROM)
    pid = arxiv_days[DAY1][0]["id"]
    paper = arxiv_store.get_papers([pid])[pid]
    assert (paper.version, paper.created, paper.updated) == (2, DAY1, DAY2)
    assert [(n, created[:16]) for p, n, created in version_rows(arxiv_store) if p == pid] == [
        (1, "Wed, 18 Dec 2024"), (2, "Thu, 19 Dec 2024")]


@both_stores
def test_killed_harvest_resumes_and_ends_like_a_clean_run(
        arxiv_server: ArxivServer, arxiv_settings: config.Settings, store_url: str,
        served: Served, make_client: MakeClient, tmp_path: Path) -> None:
    # the clean run is on SQLite: the resumed one on PostgreSQL must end the same
    store, clean = Store(store_url), Store(f"sqlite:///{tmp_path}/clean.sqlite")
    fetch(arxiv_settings, clean, oai_from=FROM, client=make_client())
    arxiv_server.requests.clear()

    arxiv_server.storm("/oai", Fault(status=500), after=2)  # pages 1-2 fine, page 3 never
    with pytest.raises(SourceError) as e:
        fetch(arxiv_settings, store, oai_from=FROM, client=make_client())
    assert "HTTP 500 4 times" in str(e.value) and "resumes from the last saved page" in str(e.value)
    assert stored_ids(store) == served.first_pages(2)
    saved_token = arxiv_server.requests_to("/oai")[2].query["resumptionToken"]

    arxiv_server.calm()
    arxiv_server.requests.clear()
    report = fetch(arxiv_settings, store, oai_from=FROM, client=make_client())

    (h,) = report.harvests
    assert h.resumed and h.pages == served.pages - 2 and h.total == len(served.ids)
    assert arxiv_server.requests_to("/oai")[0].query == {
        "verb": "ListRecords", "resumptionToken": saved_token}
    assert stored_ids(store) == stored_ids(clean) == served.ids
    assert version_rows(store) == version_rows(clean)
    assert len(set(version_rows(store))) == len(version_rows(store))
    store.close()
    clean.close()


def test_truncated_page_is_retried_then_fails_leaving_saved_pages(
        arxiv_server: ArxivServer, arxiv_store: Store, served: Served,
        make_client: MakeClient) -> None:
    arxiv_server.storm("/oai", Fault(cut_xml=True), after=1)
    with pytest.raises(SourceError) as e:
        harvest(make_client(max_retries=2), arxiv_store, f"{arxiv_server.url}/oai",
                set_spec="cs", from_=FROM)
    assert str(e.value).startswith(
        f"arXiv returned a truncated/malformed OAI-PMH page at {arxiv_server.url}/oai (")
    assert str(e.value).endswith(
        ": rerun later; the harvest resumes from the last saved page")
    assert len(arxiv_server.requests_to("/oai")) == 1 + 3
    assert stored_ids(arxiv_store) == served.first_pages(1)  # nothing from the cut page


def test_finished_harvest_is_not_repeated(arxiv_server: ArxivServer,
                                          arxiv_settings: config.Settings, arxiv_store: Store,
                                          served: Served, make_client: MakeClient) -> None:
    fetch(arxiv_settings, arxiv_store, oai_from=FROM, oai_until="2024-12-31",
          client=make_client())
    before = len(arxiv_server.requests)
    report = fetch(arxiv_settings, arxiv_store, oai_from=FROM, oai_until="2024-12-31",
                   client=make_client())
    assert len(arxiv_server.requests) == before
    assert report.summary() == (f"OAI-PMH cs {FROM}..2024-12-31: already harvested "
                                f"({len(served.ids)} papers), nothing to do")
    assert stored_ids(arxiv_store) == served.ids


def test_open_ended_harvest_runs_again_harmlessly(arxiv_server: ArxivServer,
                                                  arxiv_store: Store, served: Served,
                                                  make_client: MakeClient) -> None:
    url = f"{arxiv_server.url}/oai"
    harvest(make_client(), arxiv_store, url, set_spec="cs", from_=FROM)
    rows = version_rows(arxiv_store)
    again = harvest(make_client(), arxiv_store, url, set_spec="cs", from_=FROM)
    assert again.pages == served.pages and not again.resumed
    assert stored_ids(arxiv_store) == served.ids and version_rows(arxiv_store) == rows


def test_expired_token_restarts_the_harvest(arxiv_server: ArxivServer, arxiv_store: Store,
                                            served: Served, make_client: MakeClient) -> None:
    url = f"{arxiv_server.url}/oai"
    arxiv_server.storm("/oai", Fault(status=503), after=3)
    with pytest.raises(SourceError):
        harvest(make_client(max_retries=0), arxiv_store, url, set_spec="cs", from_=FROM)
    arxiv_server.calm()
    arxiv_server.expire_tokens()
    messages: list[str] = []

    report = harvest(make_client(), arxiv_store, url, set_spec="cs", from_=FROM,
                     progress=messages.append)

    assert report.restarted and report.pages == served.pages and report.total == len(served.ids)
    assert any("restarting" in m for m in messages)
    assert stored_ids(arxiv_store) == served.ids


def test_no_records_match_is_an_empty_harvest(arxiv_server: ArxivServer, arxiv_store: Store,
                                              make_client: MakeClient) -> None:
    report = harvest(make_client(), arxiv_store, f"{arxiv_server.url}/oai", set_spec="cs",
                     from_="2030-01-01")
    assert (report.pages, report.stored) == (1, 0)
    assert arxiv_store.count_papers() == 0


def test_oai_error_is_one_line(arxiv_server: ArxivServer, arxiv_store: Store,
                               make_client: MakeClient) -> None:
    with pytest.raises(SourceError) as e:
        harvest(make_client(), arxiv_store, f"{arxiv_server.url}/oai", set_spec="cs",
                from_="2024-12-31", until="2024-12-01")
    assert "(badArgument: The from date is after the until date)" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("day", ["2024-13-01", "yesterday", "2024-1-5"])
def test_bad_days_are_refused_before_asking_arxiv(arxiv_server: ArxivServer,
                                                  arxiv_settings: config.Settings,
                                                  arxiv_store: Store, day: str) -> None:
    with pytest.raises(SourceError, match=f"OAI-PMH from day '{day}' is not a date like"):
        fetch(arxiv_settings, arxiv_store, oai_from=day)
    assert arxiv_server.requests == []


def test_deleted_records_are_skipped_but_counted(arxiv_server: ArxivServer, arxiv_store: Store,
                                                 served: Served,
                                                 make_client: MakeClient) -> None:
    report = harvest(make_client(), arxiv_store, f"{arxiv_server.url}/oai", set_spec="cs",
                     from_=FROM)
    assert (report.deleted, report.bad) == (2, 0)
    assert not arxiv_server.oai_deleted & stored_ids(arxiv_store)

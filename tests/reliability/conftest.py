"""Fixtures of the fault and abuse suite: fresh stores, the local arXiv server with its
clean reference runs, and the daily job's base store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from papersift.calendar import latest_listing_day
from papersift.sources.dump import import_dump
from papersift.store import Store
from tests.arxiv_server import DATA, DAY1, DAY2, ArxivServer, load_days
from tests.delivery_servers import WebhookReceiver
from tests.reliability.trials import DailyTrials, IngestTrials, Stores, ingest_server


@pytest.fixture(scope="module")
def arxiv_records() -> dict[str, list[dict]]:
    if not DATA.exists():
        pytest.skip(f"shared data {DATA} is missing")
    return load_days()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Stores:
    """Where trial stores come from (the store URL is the fixture's business)."""
    return Stores(tmp_path_factory.mktemp("stores"))


@pytest.fixture(scope="module")
def ingest_trials(arxiv_records: dict[str, list[dict]], stores: Stores,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestTrials]:
    with ingest_server(arxiv_records) as server:
        yield IngestTrials(server, stores, tmp_path_factory.mktemp("ingest"))


def previous_weekday(day: str) -> str:
    d = date.fromisoformat(day) - timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d.isoformat()


@pytest.fixture(scope="module")
def daily_trials(arxiv_records: dict[str, list[dict]], stores: Stores,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[DailyTrials]:
    """Today's feed is DAY2's papers; DAY1's, announced the listing day before, are the
    background, and five of its cs.CL papers the library."""
    day = latest_listing_day()
    folder = tmp_path_factory.mktemp("daily")
    dump = folder / "background.jsonl"
    with open(dump, "w") as f:
        for r in arxiv_records[DAY1]:
            f.write(json.dumps({**r, "announced": previous_weekday(day)}) + "\n")
    base = Store(stores.url("daily-base"))
    import_dump(base, dump)
    base.close()
    library = [r["id"] for r in arxiv_records[DAY1]
               if r["categories"].split()[0] == "cs.CL"][:5]
    with ArxivServer({day: arxiv_records[DAY2]}) as server, WebhookReceiver() as hooks:
        server.feed_day = day
        yield DailyTrials(server, hooks, stores, folder, day, library)

"""Fixtures of the fault and abuse suite: fresh stores, the local arXiv server with its
clean reference runs, and the daily job's base store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from papersift.calendar import latest_listing_day
from tests.arxiv_server import DATA, DAY2, ArxivServer, load_days
from tests.delivery_servers import WebhookReceiver
from tests.reliability.trials import (
    DailyTrials,
    IngestTrials,
    Stores,
    build_daily_base,
    ingest_server,
    other_libraries,
)


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


@pytest.fixture(scope="module")
def daily_trials(arxiv_records: dict[str, list[dict]], stores: Stores,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[DailyTrials]:
    """Today's feed is DAY2's papers; DAY1's are the background and the library."""
    day = latest_listing_day()
    folder = tmp_path_factory.mktemp("daily")
    library = build_daily_base(stores, arxiv_records, day, folder)
    with ArxivServer({day: arxiv_records[DAY2]}) as server, WebhookReceiver() as hooks:
        server.feed_day = day
        yield DailyTrials(server, hooks, stores, folder, day, library)


@pytest.fixture(scope="module")
def all_users_trials(arxiv_records: dict[str, list[dict]], stores: Stores,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[DailyTrials]:
    """The daily trials' day and base, with two more users: `daily --all-users`."""
    day = latest_listing_day()
    folder = tmp_path_factory.mktemp("all-users")
    library = build_daily_base(stores, arxiv_records, day, folder)
    with ArxivServer({day: arxiv_records[DAY2]}) as server, WebhookReceiver() as hooks:
        server.feed_day = day
        yield DailyTrials(server, hooks, stores, folder, day, library,
                          other_libraries(arxiv_records))

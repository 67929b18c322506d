"""Fixtures of the fault and abuse suite: fresh stores, the local arXiv server with its
clean reference runs, and the daily job's base store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.arxiv_server import DATA, load_days
from tests.reliability.trials import (
    DailyTrials,
    IngestTrials,
    PgStores,
    Stores,
    ingest_server,
    open_daily_trials,
)


@pytest.fixture(scope="module")
def arxiv_records() -> dict[str, list[dict]]:
    if not DATA.exists():
        pytest.skip(f"shared data {DATA} is missing")
    return load_days()


@pytest.fixture(scope="module")
def stores(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """Where trial stores come from (the store URL is the fixture's business): SQLite files,
    or databases on the session's PostgreSQL cluster for a test that parametrizes it
    (indirectly) with "postgresql"."""
    if getattr(request, "param", "sqlite") == "sqlite":
        made: Stores = Stores(tmp_path_factory.mktemp("stores"))
    else:
        made = PgStores(request.getfixturevalue("pg_cluster"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def ingest_trials(arxiv_records: dict[str, list[dict]], stores: Stores,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestTrials]:
    with ingest_server(arxiv_records) as server:
        yield IngestTrials(server, stores, tmp_path_factory.mktemp("ingest"))


@pytest.fixture(scope="module")
def daily_trials(arxiv_records: dict[str, list[dict]], stores: Stores,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[DailyTrials]:
    with open_daily_trials(arxiv_records, stores, tmp_path_factory.mktemp("daily"),
                           all_users=False) as trials:
        yield trials


@pytest.fixture(scope="module")
def all_users_trials(arxiv_records: dict[str, list[dict]], stores: Stores,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[DailyTrials]:
    with open_daily_trials(arxiv_records, stores, tmp_path_factory.mktemp("all-users"),
                           all_users=True) as trials:
        yield trials

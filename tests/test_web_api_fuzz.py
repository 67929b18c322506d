"""Schemathesis over the app's own OpenAPI spec: generated requests to every /api operation
(bad dates, odd ids, hostile queries, malformed bodies) never get a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.pg import store_like
from tests.web_fixtures import Web, make_web


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, web_store_file: Path,
           embedder) -> Iterator[tuple[Web, dict[str, str], dict[str, str]]]:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("fuzz")
    # schemathesis's ASGI client names itself Host: testserver, which single-user mode
    # refuses unless web.base_url names it (the DNS rebinding guard)
    web = make_web(folder, store_like(web_store_file, folder), embedder, accounts=False,
                   extra='base_url = "http://testserver"\n')
    client = web.client()
    csrf = client.get("/api/me").json()["csrf"]
    yield web, {"X-CSRF-Token": csrf}, dict(client.cookies)
    web.store.close()


def test_no_server_errors(fuzzed) -> None:  # type: ignore[no-untyped-def]
    web, headers, cookies = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    # every /api operation, the POST included (GET /api/trends is the eighth: the data of
    # the pictures page's per-topic trends)
    assert len(operations) == 8

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_500(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=headers, cookies=cookies)
            assert response.status_code < 500, (case.method, case.formatted_path, case.query,
                                                case.body, response.text[:300])

        no_500()

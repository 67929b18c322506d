"""The arXiv HTTP client against a real local server: pacing, identity, retries, errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise

import pytest

from papersift import __version__, config
from papersift.errors import SourceError
from papersift.sources.fetch import fetch
from papersift.sources.http import ArxivClient
from papersift.sources.rss import Feed, parse_feed
from papersift.store import Store
from tests.arxiv_server import ArxivServer, Fault, closed_port_url

pytest_plugins = ["tests.arxiv_fixtures"]

MakeClient = Callable[..., ArxivClient]


def get_feed(client: ArxivClient, server: ArxivServer) -> Feed:
    return client.get(f"{server.url}/rss/cs.CL", parse=parse_feed, what="RSS feed")


def gaps(server: ArxivServer) -> list[float]:
    times = [r.time for r in server.requests]
    return [b - a for a, b in pairwise(times)]


def assert_one_line(e: pytest.ExceptionInfo[SourceError]) -> str:
    msg = str(e.value)
    assert "\n" not in msg and ": " in msg  # problem, then the fix
    return msg


def test_fetch_identifies_itself_and_reads_settings(
        arxiv_server: ArxivServer, arxiv_settings: config.Settings, arxiv_store: Store) -> None:
    fetch(arxiv_settings, arxiv_store)
    (req,) = arxiv_server.requests
    assert req.path == "/rss/cs.CL"
    assert req.headers["user-agent"] == (
        "papersift/{} (+https://github.com/papersift/papersift; mailto:{})".format(
            __version__, arxiv_settings["arxiv.contact"]))
    assert arxiv_settings["arxiv.contact"]


def test_user_agent_without_contact_has_no_mailto(arxiv_server: ArxivServer,
                                                  make_client: MakeClient) -> None:
    get_feed(make_client(contact=""), arxiv_server)
    assert arxiv_server.requests[0].headers["user-agent"] == (
        f"papersift/{__version__} (+https://github.com/papersift/papersift)")


def test_requests_are_spaced_by_min_interval(arxiv_server: ArxivServer,
                                             make_client: MakeClient) -> None:
    client = make_client(min_interval=0.2)
    for _ in range(3):
        get_feed(client, arxiv_server)
    # one 429 in between: the retry is paced like any other request
    arxiv_server.fail("/rss", Fault(status=429))
    get_feed(client, arxiv_server)
    assert len(arxiv_server.requests) == 5
    # The server stamps a request when its thread gets to it, late by a scheduling delay
    # that shortens the next gap on a busy machine: each gap gets 40 ms of slack, and the
    # whole run, where only the first stamp's delay counts, 20 ms.
    assert all(g >= 0.2 - 0.04 for g in gaps(arxiv_server)), gaps(arxiv_server)
    assert sum(gaps(arxiv_server)) >= 4 * 0.2 - 0.02, gaps(arxiv_server)


def test_429_then_success(arxiv_server: ArxivServer, make_client: MakeClient) -> None:
    arxiv_server.fail("/rss", Fault(status=429))
    feed = get_feed(make_client(), arxiv_server)
    assert len(feed.items) > 0
    assert len(arxiv_server.requests) == 2


@pytest.mark.parametrize("fault", [Fault(status=503), Fault(status=502), Fault(reset=True),
                                   Fault(truncate=True), Fault(cut_xml=True)],
                         ids=["503", "502", "reset", "short-body", "cut-xml"])
def test_transient_failures_are_retried(arxiv_server: ArxivServer, make_client: MakeClient,
                                        fault: Fault) -> None:
    arxiv_server.fail("/rss", fault, fault)
    feed = get_feed(make_client(), arxiv_server)
    assert len(feed.items) > 0
    assert len(arxiv_server.requests) == 3


def test_503_retry_after_seconds_is_honoured(arxiv_server: ArxivServer,
                                             make_client: MakeClient) -> None:
    arxiv_server.fail("/rss", Fault(status=503, headers={"Retry-After": "1"}))
    start = time.monotonic()
    get_feed(make_client(backoff=0.01), arxiv_server)
    assert time.monotonic() - start >= 1.0
    assert gaps(arxiv_server)[0] >= 0.95


def test_retry_after_http_date_is_honoured(arxiv_server: ArxivServer,
                                           make_client: MakeClient) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    arxiv_server.fail("/rss", Fault(status=429, headers={"Retry-After": when}))
    get_feed(make_client(backoff=0.01), arxiv_server)
    assert gaps(arxiv_server)[0] >= 0.95  # the date has one-second resolution


def test_retry_after_is_capped(arxiv_server: ArxivServer, make_client: MakeClient) -> None:
    arxiv_server.fail("/rss", Fault(status=503, headers={"Retry-After": "3600"}))
    start = time.monotonic()
    get_feed(make_client(max_wait=0.3), arxiv_server)
    assert 0.3 <= time.monotonic() - start < 3


def test_429_storm_gives_one_line_error(arxiv_server: ArxivServer,
                                        make_client: MakeClient) -> None:
    arxiv_server.storm("/rss", Fault(status=429))
    with pytest.raises(SourceError) as e:
        get_feed(make_client(max_retries=2), arxiv_server)
    msg = assert_one_line(e)
    assert "rate-limited us (HTTP 429) 3 times" in msg
    assert f"{arxiv_server.url}/rss/cs.CL" in msg and "wait a few minutes" in msg
    assert len(arxiv_server.requests) == 3


def test_backoff_grows_between_retries(arxiv_server: ArxivServer,
                                       make_client: MakeClient) -> None:
    arxiv_server.storm("/rss", Fault(status=503))
    with pytest.raises(SourceError, match="HTTP 503 3 times"):
        get_feed(make_client(max_retries=2, backoff=0.2, min_interval=0), arxiv_server)
    first, second = gaps(arxiv_server)
    assert first >= 0.19 and second >= 0.39


def test_unreachable_port_gives_one_line_error(make_client: MakeClient) -> None:
    url = f"{closed_port_url()}/rss/cs.CL"
    with pytest.raises(SourceError) as e:
        make_client(max_retries=1).get(url, parse=parse_feed)
    msg = assert_one_line(e)
    assert msg.startswith(f"arXiv unreachable at {url} (connection refused)")
    assert "arxiv.offline = true" in msg


def test_slow_server_times_out(arxiv_server: ArxivServer, make_client: MakeClient) -> None:
    arxiv_server.storm("/rss", Fault(delay=0.6))
    with pytest.raises(SourceError) as e:
        get_feed(make_client(timeout=0.2, max_retries=1), arxiv_server)
    assert "did not answer within 0.2 s" in assert_one_line(e)
    assert len(arxiv_server.requests) == 2


def test_client_errors_are_not_retried(arxiv_server: ArxivServer,
                                       make_client: MakeClient) -> None:
    with pytest.raises(SourceError) as e:
        make_client().get(f"{arxiv_server.url}/nowhere", parse=parse_feed)
    assert "HTTP 404" in assert_one_line(e)
    assert len(arxiv_server.requests) == 1


def test_offline_configuration_sends_nothing(arxiv_server: ArxivServer,
                                             arxiv_env: dict[str, str],
                                             arxiv_store: Store) -> None:
    settings = config.load(None, env={**arxiv_env, "PAPERSIFT_ARXIV_OFFLINE": "true"})
    with pytest.raises(SourceError) as e:
        fetch(settings, arxiv_store)
    assert assert_one_line(e).startswith("arXiv is offline by configuration (arxiv.offline = true)")
    assert arxiv_server.requests == []

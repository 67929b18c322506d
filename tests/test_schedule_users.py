"""`papersift serve --all-users`: each pass of the scheduler serves every user of the store,
each with their own catch-up days and delivery retries, and sends each (user, day, channel)
once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from papersift.cli import main
from papersift.config import Settings
from papersift.scheduler import Scheduler
from papersift.store.deliveries import Claim
from tests.arxiv_server import DAY2
from tests.delivery_fixtures import DAY1, USER, Env
from tests.delivery_servers import WebhookReceiver

OTHERS = ("bob", "cy")  # besides USER, the config's user
# the evening DAY2 (Thursday's listing) was announced
THURSDAY = datetime(2024, 12, 18, 21, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def flaky() -> Iterator[WebhookReceiver]:
    """bob's endpoint: its first answer is an HTTP 500."""
    with WebhookReceiver() as r:
        r.faults = [500]
        yield r


def _lab(denv: Env, hooks: WebhookReceiver, flaky: WebhookReceiver) -> Settings:
    """USER is up to date but for DAY2 (the fixture stored their DAY1 digest); bob and cy,
    with libraries of DAY1 papers of their own, last got a digest on Tuesday 2024-12-17, so
    they missed DAY1 too. Everyone has a webhook of their own."""
    store = denv.store()
    ids = [p.id for p in store.listing(DAY1)]
    for k, user in enumerate(OTHERS):
        store.sync_source(user, "ids:1", "ids", "list.txt", ids[20 + 6 * k: 26 + 6 * k])
        store.save_digest(user, "2024-12-17", "test", [])
    # those digests reached their webhooks (a digest never sent would be due again)
    for user, day in ((USER, DAY1), *((u, "2024-12-17") for u in OTHERS)):
        claim = store.claim_delivery(user, day, f"to-{user}", key=f"{user}-{day}")
        assert isinstance(claim, Claim)
        store.finish_delivery(claim, ok=True, detail="sent earlier")
    store.close()
    return denv.settings(
        [{"name": f"to-{u}", "type": "webhook", "users": [u],
          "url": f"{(flaky if u == 'bob' else hooks).url}/hook/{u}"} for u in (USER, *OTHERS)],
        'retries = 0\n[embedding]\nbackend = "minilm-static"\n[digest]\nworkers = 2')


def _sent(*receivers: WebhookReceiver) -> list[tuple[str, str]]:
    """(user, day) of every digest the receivers accepted, each checked to be on its user's
    own endpoint."""
    out = []
    for r in receivers:
        for req in r.accepted():
            assert req.path == f"/hook/{req.json['user']}"
            out.append((req.json["user"], req.json["day"]))
    return sorted(out)


def test_a_pass_serves_every_user_with_catch_up_and_retries(
        denv: Env, hooks: WebhookReceiver, flaky: WebhookReceiver) -> None:
    settings = _lab(denv, hooks, flaky)
    sched = Scheduler(settings, all_users=True)
    assert sched.due_days(THURSDAY) == {USER: [DAY2], "bob": [DAY1, DAY2],
                                        "cy": [DAY1, DAY2]}
    first = sched.tick(THURSDAY)
    assert first.days == [DAY1, DAY2] and not first.errors
    store = denv.store()
    for user in (USER, *OTHERS):
        assert store.digest(user, DAY2), user
    # bob's first delivery met the 500: the pass asks for a retry
    assert first.needs_retry
    assert [(o.channel, o.status) for o in first.outcomes if o.status != "sent"] == [
        ("to-bob", "failed")]
    assert _sent(hooks, flaky) == [(USER, DAY2), ("bob", DAY2), ("cy", DAY1), ("cy", DAY2)]

    # the next pass (the command cron runs) ranks nothing again and sends bob's missed one
    res = CliRunner().invoke(main, ["--config", str(denv.folder / "config.toml"), "serve",
                                    "--once", "--all-users"], env=denv.env)
    assert res.exit_code == 0, res.output
    assert "to-bob: sent" in res.stdout
    assert _sent(hooks, flaky) == [(USER, DAY2), ("bob", DAY1), ("bob", DAY2), ("cy", DAY1),
                                   ("cy", DAY2)]
    last = sched.tick(THURSDAY)
    assert last.days == [] and last.outcomes == [] and not last.needs_retry
    assert len(hooks.requests) + len(flaky.requests) == 6  # the one 500 and five digests


def test_merged_catch_up_is_one_digest_per_user_who_missed_days(
        denv: Env, hooks: WebhookReceiver, flaky: WebhookReceiver) -> None:
    settings = _lab(denv, hooks, flaky)
    flaky.faults = []
    merged = denv.settings(settings.channels, 'retries = 0\n[embedding]\nbackend = '
                           '"minilm-static"\n[schedule]\ncatchup = "merged"')
    report = Scheduler(merged, all_users=True).tick(THURSDAY)
    assert not report.errors
    bodies = {r.json["user"]: r.json for r in hooks.accepted() + flaky.accepted()}
    assert sorted(bodies) == [USER, "bob", "cy"]  # one digest each
    assert bodies[USER]["day"] == DAY2 and bodies[USER]["since"] in (None, DAY2)
    for user in OTHERS:
        assert (bodies[user]["since"], bodies[user]["day"]) == (DAY1, DAY2)
    store = denv.store()
    made = [r for r in store.deliveries() if DAY2 in (r.covers or [r.day])]  # by this pass
    assert {(r.user, tuple(r.covers or [r.day])) for r in made} == {
        (USER, (DAY2,)), ("bob", (DAY1, DAY2)), ("cy", (DAY1, DAY2))}


def test_without_the_flag_only_the_configs_user_is_served(
        denv: Env, hooks: WebhookReceiver, flaky: WebhookReceiver) -> None:
    settings = _lab(denv, hooks, flaky)
    assert Scheduler(settings).due_days(THURSDAY) == {USER: [DAY2]}

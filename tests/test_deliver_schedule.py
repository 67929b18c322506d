"""The scheduler (after the announcement, catch-up), weekly digests, catch-me-up, feeds."""

import multiprocessing
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from papersift import config
from papersift.cli import main
from papersift.deliver.channels import channels_for
from papersift.doctor import diagnose
from papersift.errors import ConfigError
from papersift.jobs import deliver_day
from papersift.scheduler import Schedule, Scheduler
from papersift.store import Store
from papersift.store.deliveries import Claim
from tests.arxiv_server import DAY2
from tests.conftest import DEMO_DAY, EXAMPLES
from tests.delivery_fixtures import DAY1, USER, Env, store_digest
from tests.delivery_servers import WebhookReceiver

ET_ZONE = ZoneInfo("America/New_York")


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def eastern(*args: int) -> datetime:
    return datetime(*args, tzinfo=ET_ZONE)


def test_next_run_is_after_the_announcement_sunday_to_thursday(denv: Env) -> None:
    s = Schedule.from_settings(denv.settings([]))
    assert s.next_run(eastern(2025, 11, 14, 21, 0)) == eastern(2025, 11, 16, 20, 30)  # Fri→Sun
    assert s.next_run(eastern(2025, 11, 16, 20, 0)) == eastern(2025, 11, 16, 20, 30)
    assert s.next_run(eastern(2025, 11, 20, 20, 30)) == eastern(2025, 11, 23, 20, 30)  # Thu→Sun
    # Daylight saving time ends on Sunday 2025-11-02: 20:30 is then 01:30 UTC, not 00:30.
    assert s.next_run(eastern(2025, 11, 2, 12, 0)) == datetime(2025, 11, 3, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize("extra,match", [
    ('[schedule]\ntime = "8pm"', "schedule.time '8pm' is not a time like 20:30"),
    ('[schedule]\ntimezone = "Mars/Olympus"', "schedule.timezone 'Mars/Olympus' is not"),
    ('[schedule]\ndays = ["sun", "funday"]', "schedule.days: 'funday' is not a weekday"),
    ('[schedule]\ncatchup = "all"', "schedule.catchup must be each, merged or off"),
])
def test_bad_schedule_is_a_clear_error(denv: Env, extra: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Schedule.from_settings(denv.settings([], extra.replace("[schedule]", "[schedule]")))


def test_catch_up_after_downtime(denv: Env) -> None:
    # DAY1 (Wed 2024-12-18) has a digest; the machine comes back on Mon 2024-12-23 at 21:00
    # Eastern, after Monday's announcement: Tuesday's listing is out.
    now = eastern(2024, 12, 23, 21, 0)
    each = Scheduler(denv.settings([]))
    assert each.due_days(now) == {USER: ["2024-12-19", "2024-12-20", "2024-12-23",
                                         "2024-12-24"]}
    capped = Scheduler(denv.settings([], "[schedule]\ncatchup_days = 2"))
    assert capped.due_days(now) == {USER: ["2024-12-23", "2024-12-24"]}
    off = Scheduler(denv.settings([], '[schedule]\ncatchup = "off"'))
    assert off.due_days(now) == {USER: ["2024-12-24"]}
    assert each.due_days(eastern(2024, 12, 17, 21, 0)) == {USER: []}  # DAY1 is done


def test_a_digest_stored_but_never_sent_is_sent_by_the_next_pass(
        denv: Env, hooks: WebhookReceiver) -> None:
    """A run killed after storing the digest, before claiming its first delivery, leaves
    nothing for the retries to find: the next pass must still send it, once."""
    settings = denv.settings([{"name": "hook", "type": "webhook", "url": f"{hooks.url}/hook"}])
    scheduler = Scheduler(settings)
    now = eastern(2024, 12, 17, 21, 0)  # DAY1's listing is out; its digest is stored
    assert scheduler.due_days(now) == {USER: [DAY1]}
    report = scheduler.tick(now)
    assert [o.status for o in report.outcomes] == ["sent"] and not report.errors
    assert len(hooks.received("hook")) == 1
    assert scheduler.due_days(now) == {USER: []}
    assert scheduler.tick(now).outcomes == [] and len(hooks.received("hook")) == 1
    # without channels the stored digest is all there is to do
    assert Scheduler(denv.settings([])).due_days(now) == {USER: []}


def test_serve_thread_stops_between_passes(denv: Env) -> None:
    ticks: list[str] = []
    sched = Scheduler(denv.settings([]), log=ticks.append,
                      clock=lambda: eastern(2024, 12, 17, 21, 0))
    thread = sched.start()
    for _ in range(200):
        if ticks:
            break
        threading.Event().wait(0.01)
    sched.stop()
    assert not thread.is_alive()
    assert ticks == ["next run at 2024-12-18 20:30 EST"]


def test_weekly_cadence_sends_the_weeks_best_once(denv: Env, hooks: WebhookReceiver) -> None:
    store = Store(denv.store_url)
    store_digest(store, USER, DAY2, n=12)
    settings = denv.settings([{"name": "hook", "type": "webhook", "url": f"{hooks.url}/hook"}],
                             'cadence = "weekly"\nweekly_day = "thu"\n[digest]\nsize = 10')
    assert deliver_day(settings, store, USER, DAY1) == []  # Wednesday: not the weekly day
    out = deliver_day(settings, store, USER, DAY2)
    assert [o.status for o in out] == ["sent"]
    body = hooks.received("hook")[0].json
    assert body["since"] == "2024-12-16" and body["day"] == DAY2
    assert len(body["entries"]) == 10
    scores = [e["score"] for e in body["entries"]]
    assert scores == sorted(scores, reverse=True)
    announced = {p.announced for p in store.get_papers([e["id"] for e in body["entries"]]
                                                        ).values()}
    assert announced == {DAY1, DAY2}  # the best of both days
    assert "hook: delivered at" in "\n".join(diagnose(settings, DAY1))
    assert deliver_day(settings, store, USER, DAY2)[0].status == "already"


def test_catch_me_up_merges_the_last_days(denv: Env, hooks: WebhookReceiver) -> None:
    store = Store(denv.store_url)
    store_digest(store, USER, DAY2, n=12)
    cfg = denv.write_config([{"name": "hook", "type": "webhook", "url": f"{hooks.url}/hook"}],
                            "[digest]\nsize = 5")
    res = CliRunner().invoke(main, ["--config", str(cfg), "catchup", "--days", "3", "--until",
                                    DAY2, "--send"], env=denv.env)
    assert res.exit_code == 0, res.output
    assert f"papersift — {'2024-12-17'} – {DAY2} (5 of" in res.output
    assert "hook@catchup-2024-12-17: sent" in res.output
    assert len(hooks.received("hook")[0].json["entries"]) == 5


def test_feed_file_rss_and_atom_without_duplicates(denv: Env) -> None:
    store = Store(denv.store_url)
    store_digest(store, USER, DAY2, n=5)
    rss, atom = denv.folder / "feeds" / "{user}.xml", denv.folder / "feeds" / "{user}.atom"
    settings = denv.settings([{"name": "rss", "type": "feed", "path": str(rss)},
                              {"name": "atom", "type": "feed", "path": str(atom),
                               "format": "atom"}])
    for day in (DAY1, DAY2, DAY1):
        deliver_day(settings, store, USER, day)
    items = ET.parse(denv.folder / "feeds" / f"{USER}.xml").getroot().findall("./channel/item")
    assert [i.findtext("title") for i in items] == [f"papersift digest — {DAY2} ({USER})",
                                                    f"papersift digest — {DAY1} ({USER})"]
    assert "arxiv.org/abs/" in (items[0].findtext(
        "{http://purl.org/rss/1.0/modules/content/}encoded") or "")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = ET.parse(denv.folder / "feeds" / f"{USER}.atom").getroot().findall("a:entry", ns)
    assert len(entries) == 2


def test_processes_delivering_to_one_feed_at_once_lose_no_item(denv: Env) -> None:
    """`daily --all-users` workers (or two runs) writing one feed file at the same time."""
    settings = denv.settings([{"name": "lab", "type": "feed", "keep": 500,
                               "path": str(denv.folder / "lab.xml")}])
    (feed,) = channels_for(settings, USER)
    start = multiprocessing.get_context("fork").Barrier(4)

    def send(worker: int) -> None:
        start.wait()
        for k in range(25):
            key = f"{worker}-{k}"
            feed.send({"key": key, "user": USER, "title": key, "link": "https://x.org/",
                       "html": "<p>x</p>", "published": "2026-11-27T00:00:00+00:00"}, key)

    procs = [multiprocessing.get_context("fork").Process(target=send, args=(w,))
             for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    items = ET.parse(denv.folder / "lab.xml").getroot().findall("./channel/item")
    assert sorted(i.findtext("title") for i in items) == sorted(
        f"{w}-{k}" for w in range(4) for k in range(25))


@pytest.mark.slow
def test_merged_catch_up_ranks_each_missed_day_and_delivers_one_digest(
        demo_env: dict[str, str], tmp_path, hooks: WebhookReceiver) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text((EXAMPLES / "demo.toml").read_text().replace(
        "id_files = [\"llm-researcher-library.txt\"]",
        f"id_files = [\"{EXAMPLES / 'llm-researcher-library.txt'}\"]")
        + f'\n[schedule]\ncatchup = "merged"\n\n[[channel]]\nname = "hook"\ntype = "webhook"\n'
        f'url = "{hooks.url}/hook"\n')
    settings = config.load(cfg, env=demo_env)
    store = Store(settings.store_url)
    store.save_digest("default", "2025-11-11", "papersift", [])  # the last day done, and sent
    claim = store.claim_delivery("default", "2025-11-11", "hook", key="earlier")
    assert isinstance(claim, Claim)
    store.finish_delivery(claim, ok=True, detail="sent earlier")
    report = Scheduler(settings).tick(eastern(2025, 11, 12, 21, 0))
    assert report.days == [DEMO_DAY, "2025-11-13"] and not report.errors
    (req,) = hooks.received("hook")
    body = req.json
    assert body["since"] == DEMO_DAY and body["day"] == "2025-11-13"
    assert len(body["entries"]) == 15
    assert store.digest("default", DEMO_DAY) and store.digest("default", "2025-11-13")
    (rec,) = [r for r in store.deliveries(user="default") if r.day != "2025-11-11"]
    assert rec.covers == [DEMO_DAY, "2025-11-13"] and rec.status == "sent"
    assert Scheduler(settings).tick(eastern(2025, 11, 12, 22, 0)).days == []


def test_serve_runs_a_pass_then_stops_cleanly_on_sigterm(denv: Env) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys

    cfg = denv.write_config([])
    with socket.socket() as s:  # the web app beside the scheduler: a free port
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "papersift", "--config", str(cfg), "serve",
                             "--port", port],
                            env=os.environ | denv.env, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:  # type: ignore[union-attr]
        lines.append(line)
        if line.startswith("next run at"):
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, "".join(lines) + rest
    text = "".join(lines) + rest
    assert "scheduler running" in text and "no listing for" in text  # offline, nothing stored
    assert "finishing the pass in progress, then stopping" in text

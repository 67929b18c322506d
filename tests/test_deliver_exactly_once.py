"""Exactly once per (user, day, channel): reruns, failures, give-ups, concurrent claims,
split digests resumed, and real SIGKILLs of the `papersift deliver` process."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from papersift.cli import main
from papersift.deliver.exactly_once import delivery_key
from papersift.doctor import diagnose
from papersift.jobs import deliver_day, retry_pending
from papersift.store import Store
from papersift.store.deliveries import Claim
from papersift.workers import running
from tests.delivery_fixtures import DAY1, USER, Env, store_digest
from tests.delivery_servers import SmtpServer, WebhookReceiver
from tests.pg import both_stores


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as s:
        yield s


def three(smtp: SmtpServer, hooks: WebhookReceiver) -> list[dict]:
    return [{"name": "mail", "type": "email", "to": ["ann@example.org"],
             "sender": "bot@example.org", "host": "127.0.0.1", "port": smtp.port,
             "security": "none"},
            {"name": "slack", "type": "slack", "url": f"{hooks.url}/slack/T/B/x"},
            {"name": "hook", "type": "webhook", "url": f"{hooks.url}/hook"}]


@both_stores
def test_rerun_sends_nothing_twice(denv: Env, smtp: SmtpServer, hooks: WebhookReceiver) -> None:
    settings = denv.settings(three(smtp, hooks))
    first = deliver_day(settings, denv.store(), USER, DAY1)
    again = deliver_day(settings, denv.store(), USER, DAY1)
    assert [o.status for o in first] == ["sent"] * 3
    assert [o.status for o in again] == ["already"] * 3
    assert len(smtp.messages) == 1 and len(hooks.requests) == 2


@both_stores
def test_failed_channel_is_retried_next_run_without_resending_the_others(
        denv: Env, smtp: SmtpServer, hooks: WebhookReceiver) -> None:
    settings = denv.settings(three(smtp, hooks), "retries = 1")
    hooks.faults = [503, 503]  # slack fails both tries of this run
    out = deliver_day(settings, denv.store(), USER, DAY1)
    assert [o.status for o in out] == ["sent", "failed", "sent"]
    later = retry_pending(settings, denv.store(), USER)  # the next run
    assert [(o.channel, o.status) for o in later] == [("slack", "sent")]
    assert len(smtp.messages) == 1 and len(hooks.received("hook")) == 1
    assert len(hooks.received("slack")) == 3
    rec = {r.channel: r for r in denv.store().deliveries(user=USER)}
    assert rec["slack"].attempts == 3 and rec["slack"].status == "sent"


def test_gives_up_after_max_attempts_until_retry_failed(denv: Env,
                                                        hooks: WebhookReceiver) -> None:
    ch = [{"name": "slack", "type": "slack", "url": f"{hooks.url}/slack/T/B/x"}]
    cfg = denv.write_config(ch, "retries = 0\nmax_attempts = 2")
    hooks.faults = [500, 500, 500]
    run = ["--config", str(cfg), "deliver", "--date", DAY1]
    assert "slack: failed" in CliRunner().invoke(main, run, env=denv.env).output
    assert "slack: given up" in CliRunner().invoke(main, run, env=denv.env).output
    res = CliRunner().invoke(main, run, env=denv.env)
    assert "slack: given up" in res.output and len(hooks.received("slack")) == 2
    doctor = CliRunner().invoke(main, ["--config", str(cfg), "doctor", "--date", DAY1],
                                env=denv.env)
    assert "slack: given up after 2 attempts" in doctor.output and "--retry-failed" in doctor.output
    res = CliRunner().invoke(main, [*run, "--retry-failed"], env=denv.env)
    assert res.exit_code == 1 and len(hooks.received("slack")) == 3  # the 3rd fault
    res = CliRunner().invoke(main, [*run, "--retry-failed"], env=denv.env)
    assert res.exit_code == 0 and "slack: sent" in res.output


def test_a_delivery_in_flight_in_a_live_process_is_not_claimed_twice(denv: Env) -> None:
    store = denv.store()
    key = delivery_key(USER, DAY1, "x")
    first = store.claim_delivery(USER, DAY1, "x", key)
    assert isinstance(first, Claim) and first.attempt == 1
    second = store.claim_delivery(USER, DAY1, "x", key)  # this (live) process holds it
    assert not isinstance(second, Claim) and second.status == "sending"


@pytest.mark.skipif(sys.platform != "linux", reason="/proc")
def test_a_claim_of_a_killed_process_not_yet_reaped_is_taken_over(denv: Env) -> None:
    """A daily job's worker killed with its job stays a zombie until init reaps it: its
    claim is dead, and the rerun sends rather than waiting on it."""
    key = delivery_key(USER, DAY1, "x")
    denv.store().close()  # migrated before the fork
    pid = os.fork()
    if pid == 0:  # the worker: claims, then dies before sending
        Store(denv.store_url).claim_delivery(USER, DAY1, "x", key)
        os._exit(0)
    try:
        deadline = time.monotonic() + 30
        while running(pid) and time.monotonic() < deadline:  # exited: unreaped, a zombie
            time.sleep(0.01)
        assert Path(f"/proc/{pid}").exists()
        taken = denv.store().claim_delivery(USER, DAY1, "x", key)  # the zombie is still there
        assert isinstance(taken, Claim) and taken.attempt == 2
    finally:
        os.waitpid(pid, 0)


def test_a_split_digest_resumes_at_the_first_unsent_message(denv: Env,
                                                            hooks: WebhookReceiver) -> None:
    from tests.arxiv_server import DAY2

    store = denv.store()
    store_digest(store, USER, DAY2, n=40)
    settings = denv.settings([{"name": "wecom", "type": "wecom", "url": f"{hooks.url}/wecom",
                               "max_messages": 3}], "retries = 0")
    hooks.faults = [None, 502]
    assert deliver_day(settings, store, USER, DAY2)[0].status == "failed"
    assert store.deliveries(user=USER, day=DAY2)[0].parts == 1
    assert retry_pending(settings, store, USER)[0].status == "sent"
    heads = [r.json["markdown"]["content"].split("\n", 1)[0] for r in hooks.received("wecom")]
    # Part 2 was refused once, then went; part 1 was never sent again.
    assert [h.rsplit(" ", 1)[1] for h in heads] == ["(1/3)**", "(2/3)**", "(2/3)**", "(3/3)**"]


@pytest.mark.parametrize("killed_in", ["mail", "slack", "hook"])
def test_sigkill_while_a_channel_is_in_flight(denv: Env, smtp: SmtpServer,
                                              hooks: WebhookReceiver, killed_in: str) -> None:
    """Kill -9 while one channel's message is at the server, unanswered; rerun.

    Channels done before the kill are never sent again; the one in flight is sent again
    with the same key (Message-ID / Idempotency-Key), so per key each arrives once; the
    channels after it are sent once. Slack has no idempotency key: the documented edge.
    """
    cfg = denv.write_config(three(smtp, hooks))
    if killed_in == "mail":
        smtp.hold = True
        holding = smtp.holding
    else:
        hooks.hold_next(killed_in)
        holding = hooks.holding
    proc = subprocess.Popen([sys.executable, "-m", "papersift", "--config", str(cfg), "deliver",
                             "--date", DAY1], env=os.environ | denv.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert holding.wait(30), proc.communicate()[0]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    smtp.released.set()
    hooks.release()
    rec = {r.channel: r for r in denv.store().deliveries(user=USER)}
    assert rec[killed_in].status == "sending"
    assert "was in flight" in "\n".join(diagnose(denv.settings(three(smtp, hooks)), DAY1))

    again = subprocess.run([sys.executable, "-m", "papersift", "--config", str(cfg), "deliver",
                            "--date", DAY1], env=os.environ | denv.env, capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    raw = {"mail": len(smtp.messages), "slack": len(hooks.received("slack")),
           "hook": len(hooks.received("hook"))}
    keys = {"mail": {m["Message-ID"] for m in smtp.messages},
            "hook": {r.headers["idempotency-key"] for r in hooks.received("hook")}}
    order = ["mail", "slack", "hook"]
    for name in order:
        if order.index(name) < order.index(killed_in):
            assert raw[name] == 1, (name, raw)  # done before the kill: never again
        elif name == killed_in:
            assert raw[name] == 2, (name, raw)  # at the server when killed: sent again
        else:
            assert raw[name] == 1, (name, raw)
    assert all(len(k) == 1 for k in keys.values()), keys  # one message per delivery key
    final = {r.channel: r for r in denv.store().deliveries(user=USER)}
    assert all(r.status == "sent" for r in final.values()) and len(final) == 3
    attempts = denv.store().delivery_attempts(USER, DAY1, killed_in)
    assert [a["outcome"] for a in attempts] == [None, "sent"]  # the killed one: no outcome


@both_stores
def test_killed_after_the_last_message_was_recorded_sends_nothing_more(
        denv: Env, hooks: WebhookReceiver) -> None:
    # A process that recorded the (only) message as accepted, then died before `sent`.
    script = ("import sys; from papersift.store import Store; s = Store(sys.argv[1]); "
              "c = s.claim_delivery(sys.argv[2], sys.argv[3], 'slack', sys.argv[4]); "
              "s.delivery_part_sent(c, 1)")
    subprocess.run([sys.executable, "-c", script, denv.store_url, USER, DAY1,
                    delivery_key(USER, DAY1, "slack")], check=True)
    ch = [{"name": "slack", "type": "slack", "url": f"{hooks.url}/slack/T/B/x"}]
    out = deliver_day(denv.settings(ch), denv.store(), USER, DAY1)
    assert out[0].status == "sent" and "accepted by an earlier attempt" in out[0].detail
    assert hooks.requests == []

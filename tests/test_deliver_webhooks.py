"""Chat webhooks against a real HTTP receiver on 127.0.0.1: payload shape and signature per
platform, splitting for size limits, retries, and errors a user can act on."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from papersift.cli import main
from papersift.deliver.channels import parse_channels
from papersift.errors import ConfigError
from papersift.jobs import deliver_day
from papersift.store import Store
from tests.delivery_fixtures import DAY1, USER, Env, store_digest
from tests.delivery_servers import WebhookReceiver

SECRET = "SECabcdef0123456789"


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def channel(hooks: WebhookReceiver, kind: str, **over: object) -> dict:
    path = {"webhook": "hook"}.get(kind, kind)
    return {"name": kind, "type": kind, "url": f"{hooks.url}/{path}/T0/B1/xyz"} | over


def test_slack_blocks(denv: Env, hooks: WebhookReceiver) -> None:
    out = deliver_day(denv.settings([channel(hooks, "slack")]), denv.store(), USER, DAY1)
    assert out[0].status == "sent"
    (req,) = hooks.received("slack")
    body = req.json
    assert body["text"] == f"papersift digest — {DAY1} ({USER})"
    assert body["blocks"][0]["type"] == "header"
    sections = [b for b in body["blocks"] if b["type"] == "section"]
    assert len(sections) == 13  # the summary line and 12 papers
    first = sections[1]["text"]
    assert first["type"] == "mrkdwn" and first["text"].startswith("*1. <https://arxiv.org/abs/")
    assert "|👍>" in first["text"] and "https://papers.example.org/feedback?t=" in first["text"]
    assert all(len(s["text"]["text"]) <= 3000 for s in sections)


def test_feishu_card_is_signed_with_the_secret(denv: Env, hooks: WebhookReceiver,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEISHU_SECRET", SECRET)
    ch = channel(hooks, "feishu", secret_env="FEISHU_SECRET")
    assert deliver_day(denv.settings([ch]), denv.store(), USER, DAY1)[0].status == "sent"
    body = hooks.received("feishu")[0].json
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["title"]["content"] == f"papersift digest — {DAY1} ({USER})"
    divs = [e for e in card["elements"] if e["tag"] == "div"]
    assert divs[1]["text"]["tag"] == "lark_md" and "arxiv.org/abs/" in divs[1]["text"]["content"]
    ts = body["timestamp"]
    assert abs(int(ts) - time.time()) < 60
    want = base64.b64encode(hmac.new(f"{ts}\n{SECRET}".encode(), b"",
                                     hashlib.sha256).digest()).decode()
    assert body["sign"] == want


def test_dingtalk_markdown_is_signed_in_the_query(denv: Env, hooks: WebhookReceiver,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = denv.folder / "ding.secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    ch = channel(hooks, "dingtalk", secret_file=str(secret_file))
    ch["url"] += "?access_token=abc"
    assert deliver_day(denv.settings([ch]), denv.store(), USER, DAY1)[0].status == "sent"
    req = hooks.received("dingtalk")[0]
    assert req.json["msgtype"] == "markdown"
    assert req.json["markdown"]["text"].startswith(f"### papersift digest — {DAY1}")
    ts = req.query["timestamp"]
    want = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(),
                                     hashlib.sha256).digest()).decode()
    assert req.query["sign"] == want and req.query["access_token"] == "abc"


def test_wecom_splits_a_long_digest_within_4096_bytes(denv: Env, hooks: WebhookReceiver) -> None:
    store = Store(denv.store_url)
    from tests.arxiv_server import DAY2
    store_digest(store, USER, DAY2, n=40)
    ch = channel(hooks, "wecom", max_messages=3)
    out = deliver_day(denv.settings([ch]), store, USER, DAY2)
    assert out[0].status == "sent" and out[0].detail.startswith("3 messages")
    bodies = [r.body for r in hooks.received("wecom")]
    assert len(bodies) == 3 and all(len(b) <= 4096 for b in bodies)
    texts = [json.loads(b)["markdown"]["content"] for b in bodies]
    assert texts[0].startswith(f"**papersift digest — {DAY2} ({USER}) (1/3)**")
    shown = sum(t.count("arxiv.org/abs/") for t in texts)
    assert 3 < shown < 40
    assert texts[-1].rstrip().endswith(f"papers: [the whole digest](https://papers.example.org"
                                       f"/digest/{DAY2})")
    assert f"… {40 - shown} more papers" in texts[-1]


def test_discord_message_limit_and_no_pings(denv: Env, hooks: WebhookReceiver) -> None:
    assert deliver_day(denv.settings([channel(hooks, "discord")]), denv.store(), USER,
                       DAY1)[0].status == "sent"
    bodies = [r.json for r in hooks.received("discord")]
    assert all(len(b["content"]) <= 2000 for b in bodies)
    assert bodies[0]["allowed_mentions"] == {"parse": []}
    assert sum(b["content"].count("(<https://arxiv.org/abs/") for b in bodies) == 12


def test_generic_webhook_json_with_idempotency_key_and_signature(
        denv: Env, hooks: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    ch = channel(hooks, "webhook", secret_env="HOOK_SECRET")
    assert deliver_day(denv.settings([ch]), denv.store(), USER, DAY1)[0].status == "sent"
    req = hooks.received("hook")[0]
    body = req.json
    assert body["user"] == USER and body["day"] == DAY1 and len(body["entries"]) == 12
    e = body["entries"][0]
    assert set(e) >= {"id", "title", "authors", "url", "score", "reason", "feedback"}
    assert e["score_fraction"] == 1.0
    assert req.headers["idempotency-key"] == body["delivery"]["key"]
    ts = req.headers["x-papersift-timestamp"]
    mac = hmac.new(SECRET.encode(), ts.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-papersift-signature"] == f"sha256={mac}"


def test_5xx_and_dropped_connections_are_retried_within_the_run(denv: Env,
                                                                hooks: WebhookReceiver) -> None:
    hooks.faults = [503, "drop", None]
    out = deliver_day(denv.settings([channel(hooks, "slack")]), denv.store(), USER, DAY1)
    assert out[0].status == "sent" and out[0].attempts == 3
    assert len(hooks.received("slack")) == 2  # the dropped one never reached the handler
    attempts = denv.store().delivery_attempts(USER, DAY1, "slack")
    assert [a["outcome"] for a in attempts] == ["failed", "failed", "sent"]
    assert "HTTP 503" in attempts[0]["detail"]


@pytest.mark.parametrize("fault,expect", [
    ("html", "answered with an HTML page"),
    (404, "answered HTTP 404"),
])
def test_html_page_and_4xx_fail_without_retrying(denv: Env, hooks: WebhookReceiver,
                                                 fault: object, expect: str) -> None:
    hooks.faults = [fault]
    out = deliver_day(denv.settings([channel(hooks, "slack")]), denv.store(), USER, DAY1)
    assert out[0].status == "failed" and out[0].attempts == 1 and expect in out[0].detail
    assert "xyz" not in out[0].detail  # the URL's secret path is never shown


def test_feishu_error_code_in_a_200_answer_is_a_failure(denv: Env,
                                                        hooks: WebhookReceiver) -> None:
    hooks.faults = [b'{"code":19021,"msg":"sign match fail or timestamp is not within one '
                    b'hour from current time"}']
    out = deliver_day(denv.settings([channel(hooks, "feishu")]), denv.store(), USER, DAY1)
    assert out[0].status == "failed" and out[0].attempts == 1
    assert "refused the message (code 19021: sign match fail" in out[0].detail


def test_malformed_url_and_unknown_type(denv: Env) -> None:
    with pytest.raises(ConfigError, match=r"webhook URL 'hooks.slack.com/…' is malformed|"
                                          r"webhook URL '<url>' is malformed"):
        parse_channels(denv.settings([{"name": "s", "type": "slack",
                                       "url": "hooks.slack.com/services/T/B/x"}]))
    with pytest.raises(ConfigError, match=r"unknown channel type 'slak' \(did you mean "
                                          r"'slack'\?\)"):
        parse_channels(denv.settings([{"name": "s", "type": "slak", "url": "https://x.y"}]))


def test_secrets_never_printed(denv: Env, hooks: WebhookReceiver) -> None:
    hooks.faults = [500, 500, 500, 500]
    secret_url = f"{hooks.url}/slack/T0/B1/{SECRET}"
    cfg = denv.write_config([{"name": "team", "type": "slack", "url_env": "SLACK_URL"}],
                            "retries = 1")
    env = denv.env | {"SLACK_URL": secret_url}
    res = CliRunner().invoke(main, ["--config", str(cfg), "deliver", "--date", DAY1], env=env)
    assert res.exit_code == 1
    assert "team: failed" in res.output and "HTTP 500" in res.output
    doctor = CliRunner().invoke(main, ["--config", str(cfg), "doctor", "--date", DAY1],
                                env=env)
    assert "team: NOT delivered, 2 attempts so far" in doctor.output
    for text in (res.output, doctor.output):
        assert SECRET not in text


def test_a_broken_custom_template_fails_its_channel_only(denv: Env,
                                                         hooks: WebhookReceiver) -> None:
    bad = denv.folder / "mine.md"
    bad.write_text("{% for e in d.entries %}{{ e.paper.title }\n")
    chans = [channel(hooks, "slack", template=str(bad)), channel(hooks, "webhook")]
    out = deliver_day(denv.settings(chans), denv.store(), USER, DAY1)
    assert [o.status for o in out] == ["failed", "sent"]
    assert f"template {bad} line 1:" in out[0].detail and out[0].attempts == 1
    assert not hooks.received("slack") and len(hooks.received("hook")) == 1


def test_daily_delivers_once_and_records_it_in_the_run(denv: Env,
                                                       hooks: WebhookReceiver) -> None:
    cfg = denv.write_config([channel(hooks, "webhook")])
    outputs = []
    for _ in range(2):
        res = CliRunner().invoke(main, ["--config", str(cfg), "daily", "--date", DAY1],
                                 env=denv.env)
        assert res.exit_code == 0, res.output
        outputs.append(res.output)
    assert "webhook: sent — HTTP 200" in outputs[0]
    assert "webhook: already sent earlier" in outputs[1]
    assert len(hooks.received("hook")) == 1
    runs = CliRunner().invoke(main, ["--config", str(cfg), "runs"], env=denv.env).output
    assert "delivery: webhook already" in runs.splitlines()[0]
    assert "delivery: webhook sent" in runs.splitlines()[1]
    res = CliRunner().invoke(main, ["--config", str(cfg), "daily", "--date", DAY1, "--no-send"],
                             env=denv.env)
    assert res.exit_code == 0 and "webhook" not in res.output

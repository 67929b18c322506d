"""E-mail delivery against a real aiosmtpd server on 127.0.0.1."""

from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from papersift.cli import main
from papersift.deliver.channels import parse_channels
from papersift.doctor import diagnose
from papersift.errors import ConfigError
from papersift.jobs import deliver_day
from papersift.tokens import verify
from tests.delivery_fixtures import DAY1, SECRET_KEY, USER, Env
from tests.delivery_servers import SmtpServer

PASSWORD = "hunter2-very-secret"


def mail(server: SmtpServer, **over: object) -> dict:
    ch = {"name": "mail", "type": "email", "to": ["Ann Lee <ann@example.org>"],
          "sender": "papersift <bot@example.org>", "reply_to": "lab@example.org",
          "host": "127.0.0.1", "port": server.port, "security": server.mode,
          "ca_file": str(server.ca_file), "unsubscribe": "https://papers.example.org/unsub"}
    if server.user:
        ch |= {"username": server.user, "password_env": "SMTP_PW"}
    return ch | over


def test_starttls_with_auth_delivers_a_multipart_digest(denv: Env, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PW", PASSWORD)
    with SmtpServer(tmp_path, "starttls", "bot", PASSWORD) as server:
        settings = denv.settings([mail(server)])
        store = denv.store()
        out = deliver_day(settings, store, USER, DAY1)
        assert [o.status for o in out] == ["sent"]
        assert len(server.messages) == 1
        msg = server.messages[0]
        assert server.envelopes[0] == ("bot@example.org", ["ann@example.org"])
    assert msg["From"] == "papersift <bot@example.org>" and msg["Reply-To"] == "lab@example.org"
    assert msg["Subject"] == f"papersift: 12 papers for {DAY1}"
    assert msg["List-Unsubscribe"] == "<https://papers.example.org/unsub>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Message-ID"].startswith(f"<{DAY1}.{USER}.mail.") and \
        msg["Message-ID"].endswith("@papersift>")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    paper = store.digest(USER, DAY1)[0].paper_id
    assert f"https://arxiv.org/abs/{paper}" in text and f"https://arxiv.org/abs/{paper}" in html
    assert "<style" not in html and 'style="' in html  # inline CSS only (Gmail, Outlook)
    assert 'name="color-scheme" content="light dark"' in html
    # 👍/👎 links carry signed tokens for this user and paper.
    up = next(line for line in text.splitlines() if line.strip().startswith("👍"))
    token = up.split("t=", 1)[1]
    fb = verify(SECRET_KEY.encode(), unquote(token))
    assert (fb.user, fb.paper_id, fb.action) == (USER, paper, "up")
    assert "https://papers.example.org/feedback?t=" in html
    assert PASSWORD not in msg.as_string()


def test_implicit_tls(denv: Env, tmp_path: Path) -> None:
    with SmtpServer(tmp_path, "tls") as server:
        out = deliver_day(denv.settings([mail(server)]), denv.store(), USER, DAY1)
        assert [o.status for o in out] == ["sent"], out
        assert len(server.messages) == 1


def test_wrong_password_fails_once_with_the_servers_answer(denv: Env, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("SMTP_PW", "wrong-" + PASSWORD)
    with SmtpServer(tmp_path, "starttls", "bot", PASSWORD) as server:
        settings = denv.settings([mail(server)])
        store = denv.store()
        out = deliver_day(settings, store, USER, DAY1)
        assert not server.messages
    assert out[0].status == "failed" and out[0].attempts == 1  # auth errors are not retried
    assert "SMTP authentication failed" in out[0].detail and "535" in out[0].detail
    assert PASSWORD not in out[0].detail
    report = "\n".join(diagnose(settings, DAY1))
    assert "mail: NOT delivered, 1 attempt so far" in report and "535" in report
    assert "papersift deliver --date" in report


def test_unreachable_server_is_retried_then_left_for_the_next_run(denv: Env) -> None:
    ch = {"name": "mail", "type": "email", "to": ["ann@example.org"], "sender": "b@example.org",
          "host": "127.0.0.1", "port": 9, "security": "none"}
    settings = denv.settings([ch], "retries = 2")
    out = deliver_day(settings, denv.store(), USER, DAY1)
    assert out[0].status == "failed" and out[0].attempts == 3
    assert "cannot reach SMTP server 127.0.0.1:9" in out[0].detail
    rec = denv.store().deliveries(user=USER)[0]
    assert (rec.status, rec.attempts) == ("failed", 3)


@pytest.mark.parametrize("over,match", [
    ({"to": ["not-an-address"]}, "to 'not-an-address' is not an e-mail address"),
    ({"sender": "bot@localhost"}, "sender 'bot@localhost' is not an e-mail address"),
    ({"password": "x"}, "secrets never go in the config file; use password_env"),
    ({"security": "ssl"}, "security must be starttls, tls or none"),
])
def test_bad_email_config_is_a_one_line_error(denv: Env, over: dict, match: str) -> None:
    ch = {"name": "mail", "type": "email", "to": ["ann@example.org"],
          "sender": "bot@example.org"} | over
    with pytest.raises(ConfigError, match=match) as e:
        parse_channels(denv.settings([ch]))
    assert "\n" not in str(e.value)


def test_password_file_must_be_private(denv: Env, tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD)
    secret.chmod(0o644)
    with SmtpServer(tmp_path, "starttls", "bot", PASSWORD) as server:
        ch = mail(server) | {"password_file": str(secret)}
        del ch["password_env"]
        cfg = denv.write_config([ch])
        res = CliRunner().invoke(main, ["--config", str(cfg), "deliver", "--date", DAY1],
                                 env=denv.env)
        assert res.exit_code == 1 and not server.messages
        assert f"chmod 600 {secret}" in res.output and PASSWORD not in res.output
        secret.chmod(0o600)
        res = CliRunner().invoke(main, ["--config", str(cfg), "deliver", "--date", DAY1],
                                 env=denv.env)
        assert res.exit_code == 0, res.output
        assert len(server.messages) == 1 and PASSWORD not in res.output

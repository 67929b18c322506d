"""`papersift web adduser/passwd` and `papersift serve` hosting the web app (real process,
real port), plus the full-text index the migration keeps current."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from papersift.cli import main
from papersift.records import Paper
from papersift.store import Store
from papersift.web.auth import check_password


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/s.sqlite"\n[arxiv]\noffline = true\n'
                   '[web]\nsecret_file = "secret.key"\n[schedule]\ncatchup = "off"\n')
    return cfg


def test_adduser_and_passwd(tmp_path: Path) -> None:
    cfg = str(_config(tmp_path))
    run = CliRunner().invoke
    r = run(main, ["--config", cfg, "web", "adduser", "ann", "--password-stdin"],
            input="short\n")
    assert r.exit_code == 1 and "password too short" in r.output
    assert run(main, ["--config", cfg, "web", "adduser", "ann", "--password-stdin"],
               input="first-password\n").exit_code == 0
    r = run(main, ["--config", cfg, "web", "adduser", "ann", "--password-stdin"],
            input="other-password\n")
    assert r.exit_code == 1 and "papersift web passwd ann" in r.output
    assert run(main, ["--config", cfg, "web", "passwd", "ann", "--password-stdin"],
               input="second-password\n").exit_code == 0
    assert run(main, ["--config", cfg, "web", "users"]).output.split() == ["ann"]
    store = Store(f"sqlite:///{tmp_path}/s.sqlite")
    assert check_password(store, "ann", "second-password")
    assert not check_password(store, "ann", "first-password")
    assert store.web_user("ann").password.startswith("$argon2")  # type: ignore[union-attr]
    store.close()


def _serve(cfg: Path, *args: str) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "papersift"
    return subprocess.Popen([str(exe), "--config", str(cfg), "serve", *args],
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PAPERSIFT_SECRET_KEY": "k" * 32})


def _wait(url: str, proc: subprocess.Popen) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return httpx.get(url, follow_redirects=False, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"serve did not answer: {proc.stderr.read() if proc.stderr else ''}")


def test_serve_hosts_the_app_beside_the_scheduler(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    # beyond loopback, no accounts: a one-line error, nothing served
    proc = _serve(cfg, "--host", "0.0.0.0", "--port", str(_port()))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "requires accounts and there are none" in err and "web adduser" in err
    # loopback: single-user, no login; SIGTERM stops both web app and scheduler
    port = _port()
    proc = _serve(cfg, "--port", str(port))
    try:
        r = _wait(f"http://127.0.0.1:{port}/api/me", proc)
        assert r.status_code == 200 and r.json()["user"] == "default"
        assert "httponly" in r.headers["set-cookie"].lower()
        # a reader who pauses longer than uvicorn's default 5 s keep-alive reuses the
        # connection (the default closed it under readers, who then got resets)
        # (http.client never reopens a connection the server closed: the request fails)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for pause in (0, 6):
                time.sleep(pause)
                conn.request("GET", "/api/me")
                answer = conn.getresponse()
                assert answer.status == 200 and b'"user"' in answer.read(), f"after {pause} s"
        finally:
            conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "scheduler running, web app on" in err
    assert "finishing the pass in progress, then stopping" in err


def test_full_text_index_follows_paper_updates(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/s.sqlite")
    old = Paper("2501.00001", "Sparse mixtures of experts", "Routing tokens.", ["A. Author"],
                ["cs.LG"], announced="2025-01-02")
    with store.begin() as conn:
        store.upsert_papers(conn, [old])
    assert [p.id for p in store.search_text("experts")] == ["2501.00001"]
    new = Paper(old.id, "Dense transformers revisited", "No routing.", ["A. Author"],
                ["cs.LG"], announced="2025-01-02", version=2)
    with store.begin() as conn:
        store.upsert_papers(conn, [new])  # a replacement: the index follows the new text
    assert store.search_text("experts") == []
    assert [p.title for p in store.search_text("dense transform")] == [new.title]
    assert [p.id for p in store.search_text("author")] == [old.id]  # authors are indexed
    store.close()

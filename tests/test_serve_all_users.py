"""`papersift serve --all-users` for real: the scheduler's pass ranks every user of the store
with forked workers while the web app answers, in a process of its own (forked before the
web app's threads, whose locks a worker forked beside them could hang on), and SIGTERM or
the server's death stops it."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import httpx
import pytest

from papersift.calendar import EASTERN, latest_listing_day
from papersift.rank.embed import make_embedder
from papersift.store import Store
from papersift.workers import running
from tests.arxiv_server import DAY2
from tests.delivery_fixtures import DAY1, USER, Env

OTHERS = ("bob", "cy")  # besides USER, the config's user
# each test ranks a day with the static model (distilled once per session) in a server
pytestmark = pytest.mark.slow


def _lab(denv: Env) -> list[str]:
    """Three users with libraries, and DAY2's papers listed again on the day the scheduler
    finds due now (and on the next, should the announcement pass during the test)."""
    store = denv.store()
    ids = [p.id for p in store.listing(DAY1)]
    for k, user in enumerate((USER, *OTHERS)):
        store.sync_source(user, "ids:1", "ids", "list.txt", ids[20 + 6 * k: 26 + 6 * k])
    now = datetime.now(EASTERN)
    days = sorted({latest_listing_day(now), latest_listing_day(now + timedelta(minutes=30))})
    listed = [p.id for p in store.listing(DAY2)]
    with store.begin() as conn:
        for day in days:
            store.add_listings(conn, day, [(pid, "new") for pid in listed])
    store.close()
    settings = denv.settings([], '[embedding]\nbackend = "minilm-static"\n[digest]\n'
                             'workers = 2\n[schedule]\ncatchup = "off"')
    make_embedder(settings).encode(["warm"])  # distilled once per session, before the clock
    return days


def _serve(denv: Env, port: int) -> tuple[subprocess.Popen, queue.Queue[str]]:
    """`serve --all-users` and its stderr, line by line (read by a thread, so the web app
    can be polled while the pass runs)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "papersift", "--config", str(denv.folder / "config.toml"),
         "serve", "--all-users", "--port", str(port)],
        env=os.environ | denv.env, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.put(line)
    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def _drain(lines: queue.Queue[str]) -> list[str]:
    """The lines still to read, once the process has ended."""
    out = []
    with contextlib.suppress(queue.Empty):
        while True:
            out.append(lines.get(timeout=1))
    return out


def _until(lines: queue.Queue[str], seen: list[str], start: str, timeout: float = 180) -> str:
    """The first line starting with `start` (the ones before it go to `seen`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith(start):
            return line
    raise AssertionError(f"no line starting with {start!r}:\n{''.join(seen)}")


def _scheduler_pid(lines: queue.Queue[str], seen: list[str]) -> int:
    """The scheduler's process id, from serve's start line."""
    started = _until(lines, seen, "papersift serve: scheduler running")
    return int(started.rsplit("process ", 1)[1].rstrip(")\n"))


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/me", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_all_users_ranks_everyone_with_workers_beside_the_web_app(denv: Env) -> None:
    days = _lab(denv)
    port = _port()
    proc, lines = _serve(denv, port)
    seen: list[str] = []
    try:
        scheduler = _scheduler_pid(lines, seen)
        assert scheduler != proc.pid and running(scheduler)  # a process of its own
        answered = 0
        while not any(line.startswith("next run at") for line in seen):  # the pass runs
            answered += _answers(port)
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.2))
            assert proc.poll() is None, "".join(seen)
        assert answered, "the web app never answered during the pass:\n" + "".join(seen)
        assert _answers(port)
        store = Store(denv.store_url)
        try:
            for user in (USER, *OTHERS):
                assert any(store.digest(user, day) for day in days), (user, "".join(seen))
        finally:
            store.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    text = "".join(seen) + "".join(_drain(lines))
    assert proc.returncode == 0, text
    assert "failed" not in text and "Traceback" not in text, text
    assert "finishing the pass in progress, then stopping" in text
    assert not running(scheduler)  # stopped with the server, not left behind


def test_the_scheduler_stops_when_the_server_is_killed(denv: Env) -> None:
    """kill -9 of the server (its web app gone) stops the scheduler's process too, once its
    pass is done: a restarted server must not find a second scheduler still at work."""
    _lab(denv)
    proc, lines = _serve(denv, _port())
    seen: list[str] = []
    scheduler = _scheduler_pid(lines, seen)
    _until(lines, seen, "next run at")
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while running(scheduler) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(scheduler), "".join(seen)


def test_serve_stops_with_one_line_when_its_scheduler_dies(denv: Env) -> None:
    """The scheduler's process killed (out of memory, kill -9): the server does not go on as
    a web app that never sends a digest again; it says so in one line and exits 1, for a
    service manager to restart it."""
    _lab(denv)
    port = _port()
    proc, lines = _serve(denv, port)
    seen: list[str] = []
    try:
        scheduler = _scheduler_pid(lines, seen)
        os.kill(scheduler, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(seen) + "".join(_drain(lines))
    assert proc.returncode == 1, text
    [line] = [x for x in text.splitlines() if x.startswith("error:")]
    assert f"scheduler (process {scheduler})" in line and "killed by signal 9" in line
    assert "start papersift serve again" in line and "Traceback" not in text
    assert not _answers(port)

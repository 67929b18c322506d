"""Host the web app with uvicorn (in the foreground; the scheduler runs in its thread)."""

from __future__ import annotations

import contextlib
import gc
import threading
from typing import TYPE_CHECKING

from fastapi import FastAPI

from papersift.config import Settings
from papersift.errors import PapersiftError
from papersift.store import Store
from papersift.web.auth import is_loopback

if TYPE_CHECKING:
    import uvicorn


def needs_accounts(settings: Settings, host: str) -> bool:
    return settings["web.accounts"] or not is_loopback(host)


def open_app(settings: Settings, host: str) -> FastAPI:
    """The app for `host`, its store opened (and migrated) now, before the scheduler starts.
    Beyond loopback (or with web.accounts) everyone signs in, so an account must exist."""
    from papersift.web.app import create_app

    accounts = needs_accounts(settings, host)
    store = Store(settings.store_url)
    if accounts and not store.web_accounts():
        store.close()
        raise PapersiftError(f"serving on {host} requires accounts and there are none: "
                             "create one with `papersift web adduser NAME` (or bind to "
                             "127.0.0.1 for single-user mode)")
    return create_app(settings, accounts=accounts, store=store)


# Seconds an idle keep-alive connection stays open. uvicorn's 5 s default closes connections
# that readers pause on, and a client reusing one just as it closes gets a reset (measured
# under load: benchmarks/web.py --postgres); 65 s outlasts the 60 s idle timeout of
# common proxies, so they, not the app, close first.
KEEP_ALIVE = 65


def uvicorn_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          timeout_keep_alive=KEEP_ALIVE)


def run(app: FastAPI, host: str, port: int, stop: threading.Event) -> None:
    """Serve until `stop` is set or uvicorn gets SIGINT/SIGTERM. uvicorn re-raises that
    signal once it has shut down, so the caller's handler (which sets `stop`) still runs;
    a signal that comes before uvicorn installed its handlers only sets `stop`, which is
    watched here."""
    import uvicorn

    server = uvicorn.Server(uvicorn_config(app, host, port))

    def watch() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=watch, daemon=True, name="papersift-web-stop").start()
    threading.Thread(target=_warm, args=(app,), daemon=True, name="papersift-web-warm").start()
    # What exists before serving (modules, templates, the app) lives as long as the
    # process: kept out of the collector's full passes, which otherwise walk all of it and
    # stall every request in flight (they set the closed-loop p99, benchmarks/web.py). Here,
    # not in the config: a test's in-process server must not freeze the test run's objects.
    gc.collect()
    gc.freeze()
    try:
        server.run()
    finally:
        app.state.store.close()
    if not server.started and not stop.is_set():
        raise PapersiftError(f"cannot serve on {host}:{port} (in use or not allowed): pick "
                             "another --port or web.port")


def _warm(app: FastAPI) -> None:
    """The newest digest day's paper pages made ready while the server starts answering."""
    # any failure (no model, the store closing at shutdown) only means the first page waits
    # and says what is wrong itself
    with contextlib.suppress(Exception):
        if day := app.state.store.newest_digest_day():
            app.state.views.warm(day)

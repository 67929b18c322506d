"""Host the web app with uvicorn (in the foreground; the scheduler runs in its thread)."""

from __future__ import annotations

from papersift.config import Settings
from papersift.errors import PapersiftError
from papersift.store import Store
from papersift.web.auth import is_loopback


def needs_accounts(settings: Settings, host: str) -> bool:
    return settings["web.accounts"] or not is_loopback(host)


def run(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM. Beyond loopback (or with web.accounts) everyone signs in,
    so an account must exist first."""
    import uvicorn

    from papersift.web.app import create_app

    accounts = needs_accounts(settings, host)
    store = Store(settings.store_url)
    if accounts and not store.web_accounts():
        store.close()
        raise PapersiftError(f"serving on {host} requires accounts and there are none: "
                             "create one with `papersift web adduser NAME` (or bind to "
                             "127.0.0.1 for single-user mode)")
    app = create_app(settings, accounts=accounts, store=store)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    finally:
        store.close()
    if not server.started:
        raise PapersiftError(f"cannot serve on {host}:{port} (in use or not allowed): pick "
                             "another --port or web.port")

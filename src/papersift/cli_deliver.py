"""Commands of delivery and scheduling: deliver, serve, doctor, catchup, channels."""

from __future__ import annotations

import signal
import threading
from datetime import date, timedelta
from types import FrameType

import click
from rich.text import Text

from papersift.calendar import latest_listing_day, parse_day
from papersift.cli import _settings, console, err, main
from papersift.errors import PapersiftError


def _print_outcomes(outcomes: list) -> None:
    for o in outcomes:
        style = "green" if o.status in ("sent", "already") else "red"
        console.print(Text.assemble((f"{o.channel}: ", style), str(o).split(": ", 1)[1]))


@main.command("deliver")
@click.option("--date", "day", help="Listing day YYYY-MM-DD (default: the latest).")
@click.option("--user", help="Whose digest (default: profile.user).")
@click.option("--retry-failed", is_flag=True,
              help="Also retry deliveries that were given up (after max_attempts).")
@click.pass_context
def deliver_cmd(ctx: click.Context, day: str | None, user: str | None,
                retry_failed: bool) -> None:
    """Send a stored digest to its channels; channels that already have it are skipped."""
    from papersift.deliver.channels import channels_for
    from papersift.jobs import deliver_day, retry_pending
    from papersift.profile.config_source import from_settings
    from papersift.store import Store

    settings = _settings(ctx)
    user = user or from_settings(settings).user
    day = parse_day(day) if day else latest_listing_day()
    if not channels_for(settings, user):
        raise PapersiftError(f"no delivery channel is configured for user {user!r}: add "
                             "[[channel]] tables to your config (`papersift channels`)")
    store = Store(settings.store_url)
    try:
        if retry_failed:
            for rec in store.deliveries(user=user, status="gave_up"):
                store.reset_delivery(rec.user, rec.day, rec.channel)
        outcomes = deliver_day(settings, store, user, day, log=err.print)
        outcomes += retry_pending(settings, store, user, skip_days={day}, log=err.print)
    finally:
        store.close()
    _print_outcomes(outcomes)
    if any(o.status in ("failed", "gave_up") for o in outcomes):
        raise SystemExit(1)


@main.command()
@click.option("--once", is_flag=True, help="One pass (due days, catch-up, retries), then exit: "
              "for cron, systemd timers and GitHub Actions.")
@click.option("--all-users", is_flag=True, help="Every user of the store, each with their "
              "own catch-up days and retries, ranked from one pass a day (a lab's server).")
@click.option("--no-web", is_flag=True, help="Only the scheduler, no web app.")
@click.option("--host", help="Bind address of the web app (default: web.host, 127.0.0.1: "
              "single-user, no login; any other address requires accounts).")
@click.option("--port", type=int, help="Port of the web app (default: web.port, 8765).")
@click.pass_context
def serve(ctx: click.Context, once: bool, all_users: bool, no_web: bool, host: str | None,
          port: int | None) -> None:
    """Run the daily job after each arXiv announcement (schedule.*), catching up missed days,
    and host the web app beside it."""
    from papersift.scheduler import Scheduler

    settings = _settings(ctx)
    scheduler = Scheduler(settings, all_users=all_users, log=err.print)
    if once:
        report = scheduler.tick()
        _print_outcomes(report.outcomes)
        if report.errors:
            raise SystemExit(1)
        return
    app = None
    if not no_web:
        from papersift.web.server import open_app, run

        host, port = host or settings["web.host"], port or settings["web.port"]
        app = open_app(settings, host)  # migrates the store before the scheduler uses it
        # the scheduler's process must not inherit open SQLite connections (the web app
        # opens new ones on demand)
        app.state.store.close()
    stopped = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        err.print(f"got signal {signum}: finishing the pass in progress, then stopping")
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # its own process, forked before the web app starts any thread: see start_process
    pid = scheduler.start_process()
    died: list[int | None] = []

    def ended(code: int | None) -> None:  # a web app without its scheduler sends nothing
        if not stopped.is_set():
            died.append(code)
            how = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
            err.print(f"error: the scheduler (process {pid}) ended on its own ({how}); "
                      "stopping the web app too: start papersift serve again (a service "
                      "manager's Restart=on-failure does it)")
            stopped.set()

    scheduler.on_exit(ended)
    try:
        if app is None:
            err.print(f"papersift serve: scheduler running (process {pid}; Ctrl-C stops it)")
            stopped.wait()
        else:
            err.print(f"papersift serve: scheduler running, web app on http://{host}:{port}/ "
                      f"(Ctrl-C stops both; the scheduler is process {pid})")
            run(app, host, port, stopped)  # the web app in the foreground
    finally:
        scheduler.stop()  # finishes the pass in progress
    if died:
        raise SystemExit(1)


@main.command()
@click.option("--date", "day", help="Listing day YYYY-MM-DD (default: the last run's).")
@click.option("--user", help="Whose digest (default: profile.user).")
@click.pass_context
def doctor(ctx: click.Context, day: str | None, user: str | None) -> None:
    """Explain in plain words what happened to a day's digest, and what to do."""
    from papersift.doctor import diagnose

    for line in diagnose(_settings(ctx), parse_day(day) if day else None, user):
        console.print(line)


@main.command()
@click.option("--days", default=7, show_default=True, help="Calendar days to look back.")
@click.option("--until", help="Last day YYYY-MM-DD (default: the latest listing day).")
@click.option("--user", help="Whose digest (default: profile.user).")
@click.option("--send", is_flag=True, help="Also deliver it to your channels.")
@click.pass_context
def catchup(ctx: click.Context, days: int, until: str | None, user: str | None,
            send: bool) -> None:
    """Catch me up: the best papers of the last N days in one digest."""
    from papersift.deliver.exactly_once import deliver
    from papersift.deliver.render import print_table
    from papersift.jobs import daily, merged_digest
    from papersift.profile.config_source import from_settings
    from papersift.store import Store

    if days < 1:
        raise PapersiftError(f"--days must be at least 1, got {days}")
    settings = _settings(ctx)
    user = user or from_settings(settings).user
    end = date.fromisoformat(parse_day(until) if until else latest_listing_day())
    span = [(end - timedelta(days=k)).isoformat() for k in range(days - 1, -1, -1)]
    listing = [d for d in span if date.fromisoformat(d).weekday() < 5]
    for day in listing:
        result = daily(settings, day, user=user, send=False)
        for w in result.warnings:
            err.print(Text.assemble(("warning: ", "yellow"), w))
    store = Store(settings.store_url)
    try:
        digest = merged_digest(settings, store, user, listing)
        print_table(digest, console)
        if send:
            # Its own delivery record: a catch-up never blocks or repeats a daily delivery.
            from papersift.deliver.channels import channels_for

            chans = channels_for(settings, user)
            for ch in chans:
                ch.name = f"{ch.name}@catchup-{digest.since}"
            _print_outcomes(deliver(settings, store, digest, covers=listing, channels=chans,
                                    log=err.print))
    finally:
        store.close()


@main.command()
def channels() -> None:
    """List the delivery channel types and the keys each [[channel]] table takes."""
    from papersift.deliver.channels import CHANNELS, COMMON, _load_types

    _load_types()
    console.print("Keys of every channel: " + "; ".join(
        f"{k} ({s.doc})" for k, s in COMMON.items()))
    for name, cls in sorted(CHANNELS.items()):
        console.print(f"\n{name}: {cls.doc}")
        for key, spec in cls.keys.items():
            need = " (required)" if spec.default is None else ""
            console.print(f"  {key}{need}: {spec.doc}")

"""`papersift doctor`: why a day's digest did or did not arrive, in plain words, with the
fix. Reads the calendar, the `runs` table, delivery records and the harvest state."""

from __future__ import annotations

from datetime import date, timedelta

from papersift.calendar import latest_listing_day, no_listing_reason
from papersift.config import Settings
from papersift.deliver.channels import channels_for
from papersift.errors import ConfigError
from papersift.jobs import threshold
from papersift.profile.config_source import from_settings
from papersift.store import Store
from papersift.wording import counted


def _next_listing(day: str) -> str:
    d = date.fromisoformat(day) + timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d.isoformat()


def _run_advice(detail: str) -> str:
    low = detail.lower()
    if "rate-limited" in low or "429" in low:
        return ("arXiv rate-limited papersift. Wait a few minutes and rerun; papersift "
                "already waits 3 s between requests and honours Retry-After.")
    if "unreachable" in low or "did not answer" in low or "cut the connection" in low:
        return ("arXiv could not be reached. Check the network (or a proxy); `papersift "
                "serve` retries every 30 minutes by itself.")
    if "answered http 5" in low or "down or busy" in low:
        return "arXiv was down or busy. Rerun later; the scheduler retries by itself."
    return "Fix what the message says, then rerun."


def diagnose(settings: Settings, day: str | None = None, user: str | None = None) -> list[str]:
    user = user or from_settings(settings).user
    store = Store(settings.store_url)
    try:
        return _diagnose(settings, store, day, user)
    finally:
        store.close()


def _diagnose(settings: Settings, store: Store, day: str | None, user: str) -> list[str]:
    runs = [r for r in store.runs(1000) if r["job"] == "daily" and r["user"] == user]
    day = day or (runs[0]["day"] if runs else latest_listing_day())
    out = [f"papersift doctor: user {user!r}, listing day {day}"]
    reason = no_listing_reason(day)
    if reason:
        out.append(f"{reason[0].upper()}{reason[1:]}. Nothing to do: the next listing is "
                   f"dated {_next_listing(day)}.")
    day_runs = [r for r in runs if r["day"] == day]
    if not day_runs and not reason:
        out.append(f"papersift never ran for {day}. If it should have, check that `papersift "
                   "serve` (or the systemd timer, cron line or GitHub workflow from deploy/) "
                   f"is running; run `papersift daily --date {day}` now to catch up.")
    elif day_runs:
        r = day_runs[0]
        when = f"run #{r['id']} (started {r['started_at']})"
        detail = r["detail"] or ""
        if r["status"] == "ok":
            out.append(f"The last {when} finished: {detail}.")
            if detail.startswith("0 papers"):
                out.append(f"Nothing passed your threshold ({threshold(settings)}): "
                           "lower it, or add papers you like to your library so more of "
                           "the day matches.")
        elif r["status"] == "empty":
            out.append(f"The last {when} found no listing: {detail}.")
        elif r["status"] == "failed":
            out.append(f"The last {when} failed while {r['stage']}: {detail}")
            out.append(_run_advice(detail))
        else:
            out.append(f"The last {when} is still marked running (stage {r['stage']}). If no "
                       "papersift process is running, it was killed: rerun it; nothing is "
                       "stored or sent twice.")
    for h in store.unfinished_harvests():
        p = h["params"]
        out.append(f"An OAI-PMH harvest (from {p.get('from')}, set {p.get('set')}) stopped "
                   f"after {h['records']} records at {h['updated_at']}: `papersift fetch "
                   f"--from {p.get('from')}` resumes it where it stopped.")
    out += _deliveries(settings, store, user, day, stored=store.digest(user, day) is not None)
    return out


def _deliveries(settings: Settings, store: Store, user: str, day: str,
                stored: bool) -> list[str]:
    try:
        channels = channels_for(settings, user)
    except ConfigError as e:
        return [f"The channel configuration is wrong, so nothing can be delivered: {e}"]
    if not channels:
        return [f"No delivery channel is configured: digests are only written to "
                f"{settings.digest_dir}. Add [[channel]] tables to your config "
                "(`papersift channels` lists the types)."]
    records = {r.channel: r for r in store.deliveries(user=user) if day in r.covers}
    out = []
    for ch in channels:
        r = records.get(ch.name)
        if r is None:
            if not stored:
                out.append(f"{ch.name}: nothing to deliver (no digest for {day}).")
            elif settings["delivery.cadence"] == "weekly":
                out.append(f"{ch.name}: weekly cadence: this day goes out with the week's "
                           f"digest on {settings['delivery.weekly_day']}.")
            else:
                out.append(f"{ch.name}: not delivered yet: run `papersift deliver --date "
                           f"{day}`.")
            continue
        span = f" (with {', '.join(d for d in r.covers if d != day)})" if len(r.covers) > 1 \
            else ""
        tries = counted(r.attempts, "attempt")
        if r.status == "sent":
            out.append(f"{ch.name}: delivered at {r.sent_at}{span} after {tries}.")
        elif r.status == "failed":
            out.append(f"{ch.name}: NOT delivered, {tries} so far; last error: {r.error}. "
                       f"It is retried on the next run, or now with `papersift deliver "
                       f"--date {r.day}`.")
        elif r.status == "gave_up":
            out.append(f"{ch.name}: given up after {tries}; last error: {r.error}. Fix it, "
                       f"then run `papersift deliver --date {r.day} --retry-failed`.")
        else:
            out.append(f"{ch.name}: an attempt was in flight at {r.updated_at} (a killed "
                       f"run?): `papersift deliver --date {r.day}` finishes it; the resend "
                       "carries the same delivery key.")
    return out

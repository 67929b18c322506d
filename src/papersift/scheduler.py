"""The built-in scheduler: run the daily job after arXiv's announcement, catch up on days
missed while the machine was off, and retry failed deliveries.

`Scheduler.start()` runs it in a background thread, so a server (the web app) can run in
the foreground beside it: `papersift serve` starts it; `papersift serve --once` does one
pass and exits (cron, systemd timers, GitHub Actions); `--all-users` does all that for every
user of the store (a lab's server).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from papersift.calendar import latest_listing_day
from papersift.config import Settings
from papersift.deliver.channels import channels_for
from papersift.deliver.exactly_once import Outcome, deliver
from papersift.errors import ConfigError, PapersiftError
from papersift.jobs import WEEKDAYS, DailyResult, daily, daily_all, merged_digest, retry_pending
from papersift.profile.config_source import from_settings
from papersift.store import Store

Log = Callable[[str], None]
RETRY_EVERY = timedelta(minutes=30)  # failed runs and deliveries are tried again this often


@dataclass(frozen=True)
class Schedule:
    at: dtime
    tz: ZoneInfo
    days: frozenset[int]  # weekday numbers, Monday = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Schedule:
        raw = settings["schedule.time"]
        try:
            hh, mm = raw.split(":")
            at = dtime(int(hh), int(mm))
        except ValueError:
            raise ConfigError(f"schedule.time {raw!r} is not a time like 20:30: fix it") \
                from None
        try:
            tz = ZoneInfo(settings["schedule.timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"schedule.timezone {settings['schedule.timezone']!r} is not a "
                              "time zone: use a name like America/New_York") from None
        days = []
        for d in settings["schedule.days"]:
            if d.lower()[:3] not in WEEKDAYS:
                raise ConfigError(f"schedule.days: {d!r} is not a weekday: use mon … sun")
            days.append(WEEKDAYS.index(d.lower()[:3]))
        if not days:
            raise ConfigError("schedule.days is empty: list the weekdays to run on")
        if settings["schedule.catchup"] not in ("each", "merged", "off"):
            raise ConfigError(f"schedule.catchup must be each, merged or off, got "
                              f"{settings['schedule.catchup']!r}")
        return cls(at, tz, frozenset(days))

    def next_run(self, after: datetime) -> datetime:
        """The first scheduled time strictly after `after` (aware), in UTC."""
        local = after.astimezone(self.tz)
        for k in range(8):
            d = local.date() + timedelta(days=k)
            when = datetime.combine(d, self.at, self.tz)
            if d.weekday() in self.days and when > local:
                return when.astimezone(UTC)
        raise AssertionError("a non-empty weekday set always has a run within 8 days")


@dataclass
class TickReport:
    days: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def needs_retry(self) -> bool:
        return bool(self.errors) or any(o.status in ("failed", "busy") for o in self.outcomes)


class Scheduler:
    """The config's user's digests, or with `all_users` those of every user of the store
    (as `daily --all-users`: each day ranked for all its users from one pass), each user
    with their own catch-up days and delivery retries."""

    def __init__(self, settings: Settings, *, all_users: bool = False,
                 log: Log = lambda _: None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self.schedule = Schedule.from_settings(settings)
        self.user = from_settings(settings).user
        self.all_users = all_users
        self.log = log
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due_days(self, now: datetime) -> dict[str, list[str]]:
        """Each user's listing days announced by `now` that have no digest yet: the latest
        one and, after downtime, the missed ones (at most schedule.catchup_days)."""
        latest = latest_listing_day(now)
        store = Store(self.settings.store_url)
        try:
            users = sorted(store.users() | {self.user}) if self.all_users else [self.user]
            # A day without listing is so for every user (candidates do not depend on the
            # user), so any user's empty run marks it done for all: the latest runs show it
            # however many users there are, where each user's own empty run may be far back.
            empty = {r["day"] for r in store.runs(500)
                     if r["status"] == "empty" and r["user"] in users}
            return {u: self._missing(latest, self._done(store, u) | empty) for u in users}
        finally:
            store.close()

    def _done(self, store: Store, user: str) -> set[str]:
        """Days with a digest, unless it never reached any channel: a run killed between
        storing the digest and claiming its first delivery leaves no delivery record for
        retry_pending to find, so the day is run again (its stored digest is reused)."""
        days = set(store.digest_days(user))
        if self.settings["delivery.cadence"] != "daily" or not channels_for(self.settings, user):
            return days  # nothing sent per day, or nowhere: the digest itself is the result
        sent = {d for r in store.deliveries(user=user) for d in (r.covers or [r.day])}
        return days & sent

    def _missing(self, latest: str, done: set[str]) -> list[str]:
        if latest in done:
            return []
        last = max((d for d in done if d < latest), default=None)
        if last is None or self.settings["schedule.catchup"] == "off":
            return [latest]
        days, d = [], date.fromisoformat(latest)
        while d.isoformat() > last and len(days) < self.settings["schedule.catchup_days"]:
            if d.weekday() < 5 and d.isoformat() not in done:
                days.append(d.isoformat())
            d -= timedelta(days=1)
        return sorted(days)

    def tick(self, now: datetime | None = None) -> TickReport:
        """One pass: rank and deliver each user's due days, then retry failed deliveries."""
        due = self.due_days(now or self.clock())
        report = TickReport(sorted({d for days in due.values() for d in days}))
        hold = {u for u, days in due.items()
                if self.settings["schedule.catchup"] == "merged" and len(days) > 1}
        done: dict[str, list[str]] = {u: [] for u in due}
        for day in report.days:
            users = [u for u, days in due.items() if day in days]
            for user, result in self._rank(day, users, hold, report).items():
                report.outcomes += result.deliveries
                done[user].append(day)
                self.log(f"{day}: {self._named(user)}{len(result.digest.entries)} papers"
                         + (f" ({result.digest.note})" if result.digest.note else ""))
        store = Store(self.settings.store_url)
        try:
            for user, days in due.items():  # users with nothing due too: their retries
                try:
                    ranked = [d for d in done[user] if store.digest(user, d) is not None]
                    if user in hold and ranked:
                        digest = merged_digest(self.settings, store, user, ranked)
                        report.outcomes += deliver(self.settings, store, digest,
                                                   covers=ranked, log=self.log)
                    report.outcomes += retry_pending(self.settings, store, user,
                                                     due_only=True, skip_days=days,
                                                     log=self.log)
                except PapersiftError as e:
                    report.errors.append(f"{self._named(user)}{e}")
                    self.log(f"{self._named(user)}delivery failed: {e}")
        finally:
            store.close()
        return report

    def _rank(self, day: str, users: list[str], hold: set[str],
              report: TickReport) -> dict[str, DailyResult]:
        """`day` ranked (and, but for `hold`, delivered) for `users`; failures are logged
        and reported, and one user's does not stop the others."""
        try:
            if not self.all_users:
                return {self.user: daily(self.settings, day, log=self.log,
                                         send=self.user not in hold)}
            results = daily_all(self.settings, day, users=users, hold=hold,
                                log=lambda m: self.log(f"{day}: {m}"))
        except PapersiftError as e:
            report.errors.append(f"{day}: {e}")
            self.log(f"{day}: failed: {e}")
            return {}
        report.errors += [f"{day}: {u}: not ranked (the reason is logged above)"
                          for u in users if u not in results]
        return results

    def _named(self, user: str) -> str:
        """Log lines name the user when the scheduler serves several."""
        return f"{user}: " if self.all_users else ""

    def run(self) -> None:
        """Tick now (catch-up), then at every scheduled time; retry sooner after failures."""
        while not self._stop.is_set():
            report = self.tick()
            now = self.clock()
            wake = self.schedule.next_run(now)
            if report.needs_retry:
                wake = min(wake, now + RETRY_EVERY)
            self.log(f"next run at {wake.astimezone(self.schedule.tz):%Y-%m-%d %H:%M %Z}")
            self._stop.wait((wake - now).total_seconds())

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="papersift-scheduler")
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Finish the pass in progress (a delivery is never cut half-way), then stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

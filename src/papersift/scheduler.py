"""The built-in scheduler: run the daily job after arXiv's announcement, catch up on days
missed while the machine was off, and retry failed deliveries.

`papersift serve` runs it in a process of its own (`Scheduler.start_process()`), forked
before the web app starts any thread, so the daily job for all users can fork its workers
from a single-threaded process; `Scheduler.start()` runs it in a thread instead (there the
job ranks every user in that process). `papersift serve --once` does one pass and exits
(cron, systemd timers, GitHub Actions); `--all-users` does all that for every user of the
store (a lab's server).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from multiprocessing.process import BaseProcess
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from papersift.calendar import latest_listing_day
from papersift.config import Settings
from papersift.deliver.channels import channels_for
from papersift.deliver.exactly_once import Outcome, deliver
from papersift.errors import ConfigError, PapersiftError
from papersift.jobs import WEEKDAYS, DailyResult, daily, daily_all, merged_digest, retry_pending
from papersift.profile.config_source import from_settings
from papersift.store import Store
from papersift.workers import beside_threads, die_with_parent

Log = Callable[[str], None]
RETRY_EVERY = timedelta(minutes=30)  # failed runs and deliveries are tried again this often
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}  # the scheduler's process stops on these


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
        self._process: BaseProcess | None = None

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

    def run(self, stop_within: Callable[[float], bool] | None = None) -> None:
        """Tick now (catch-up), then at every scheduled time; retry sooner after failures.
        `stop_within(seconds)` waits up to that long and says whether to stop (default:
        until `stop()`)."""
        stop_within = stop_within or self._stop.wait
        while not stop_within(0):
            report = self.tick()
            now = self.clock()
            wake = self.schedule.next_run(now)
            if report.needs_retry:
                wake = min(wake, now + RETRY_EVERY)
            self.log(f"next run at {wake.astimezone(self.schedule.tz):%Y-%m-%d %H:%M %Z}")
            stop_within((wake - now).total_seconds())

    def start(self) -> threading.Thread:
        """Run in a thread of this process (its daily job then ranks in it: see
        `workers.beside_threads`); `start_process` keeps its forked workers."""
        def run() -> None:
            with beside_threads():
                self.run()
        self._thread = threading.Thread(target=run, name="papersift-scheduler")
        self._thread.start()
        return self._thread

    def start_process(self) -> int:
        """Run in a process forked now, and return its id. Call it before this process
        starts any thread: the daily job for all users forks workers, and forked beside
        other threads a worker can hang on a lock one of them held (`workers.fork_map`
        then ranks in one process). SIGTERM or SIGINT to the process, `stop()`, or this
        process ending (even killed) stop it once the pass in progress is done."""
        ctx = multiprocessing.get_context("fork")
        self._process = ctx.Process(target=self._child, args=(os.getpid(),),
                                    name="papersift-scheduler")
        # blocked across the fork: a stop signal that comes before the child waits for one
        # stays pending (rather than running the handler it inherited)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        assert self._process.pid is not None
        return self._process.pid

    def _child(self, parent: int) -> None:
        # The signals stay blocked: one that comes mid-pass waits for its end (a delivery
        # is never cut half-way) and is taken by sigtimedwait, with no lock involved (a
        # handler setting an Event can deadlock against the wait it interrupts). Should a
        # library unblock them mid-pass, this handler notes the request instead.
        requested: list[int] = []
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda signum, _frame: requested.append(signum))
        die_with_parent(signal.SIGTERM, parent)

        def stop_within(seconds: float) -> bool:  # a request taken stays taken
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            if not requested and (got := signal.sigtimedwait(STOP_SIGNALS, max(0.0, seconds))):
                requested.append(got.si_signo)
            return bool(requested)
        self.run(stop_within)

    def on_exit(self, ended: Callable[[int | None], None]) -> None:
        """Call `ended(exit code)` from a thread of its own when the process of
        `start_process` ends. Its sentinel is watched, not the process reaped: `stop` may
        join it at the same time."""
        assert self._process is not None
        process = self._process

        def wait() -> None:
            multiprocessing.connection.wait([process.sentinel])
            ended(process.exitcode)
        threading.Thread(target=wait, daemon=True, name="papersift-scheduler-watch").start()

    def stop(self) -> None:
        """Finish the pass in progress (a delivery is never cut half-way), then stop."""
        self._stop.set()
        if self._process is not None:
            self._process.terminate()  # SIGTERM: see _child
            self._process.join()
        if self._thread is not None:
            self._thread.join()

"""Kill -9 trials under injected faults, shared by tests/reliability and
benchmarks/reliability.py (which runs more of them and records the counts).

A trial starts a real `papersift` process (the CLI's own `main`), lets the local arXiv
server misbehave at random (seeded), SIGKILLs the process at a random point, reruns the
command the way a user would, and compares the store (and what the channels received)
with a clean run's. Processes are forked from a forkserver that has imported papersift
once, so a trial costs its work rather than a Python start-up.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import random
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING

from click.testing import CliRunner
from sqlalchemy import Table, select, text

from papersift import config
from papersift.calendar import latest_listing_day
from papersift.cli import main
from papersift.deliver.exactly_once import delivery_key
from papersift.errors import SourceError
from papersift.jobs import daily, daily_all
from papersift.rank.embed import StaticMiniLM
from papersift.sources.dump import import_dump
from papersift.sources.fetch import fetch
from papersift.store import Store
from papersift.store import schema as t
from tests.arxiv_server import DAY1, DAY2, ArxivServer, Fault, FaultSchedule, revised
from tests.delivery_servers import WebhookReceiver

if TYPE_CHECKING:
    from tests.pg import PgCluster

TIMEOUT = 0.4  # the client's per-request timeout in trials: a "timeout" fault outlasts it
FAULTS = {
    "429": Fault(status=429, headers={"Retry-After": "0"}),
    "503": Fault(status=503),
    "timeout": Fault(delay=TIMEOUT + 0.1),
    "slow": Fault(delay=TIMEOUT / 4),
    "truncated": Fault(truncate=True),
    "cut_xml": Fault(cut_xml=True),
    "reset": Fault(reset=True),
}
WEIGHTS = {"timeout": 0.3, "slow": 0.5}  # the slow ones cost wall time: fewer of them
FAULT_P = 0.2
COMMANDS = {"harvest": ["fetch", "--from", DAY1, "--until", DAY2],
            "feed": ["fetch"], "lookup": ["fetch"]}  # lookup: + --ids for every id
TABLES: dict[str, Table] = {"papers": t.papers, "versions": t.versions, "listings": t.listings}
PAGE = 30  # OAI-PMH records per page: 15 pages, so kills land between and inside pages

_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload(["papersift.cli", "papersift.jobs", "tests.reliability.trials"])


def _cli_child(argv: list[str], env: dict[str, str], log: str) -> None:
    """In the forked process: this environment, output to `log`, then the real CLI."""
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    main.main(args=argv, prog_name="papersift")


def start_cli(argv: list[str], env: dict[str, str], log: Path) -> BaseProcess:
    # not daemonic: `daily --all-users` forks workers, which a daemonic process may not
    proc = _CTX.Process(target=_cli_child, args=(argv, env, str(log)), daemon=False)
    proc.start()
    return proc


def kill_when(proc: BaseProcess, ready: Callable[[], bool],
              delay: float) -> Callable[[], None]:
    """SIGKILL `proc` `delay` seconds after `ready()` first holds (polled). Returns `stop`,
    to call once the process has ended. Only the caller's thread waits for the process:
    two threads polling one forkserver child race for its exit status."""
    done = threading.Event()

    def run() -> None:
        while not done.is_set() and not ready():
            time.sleep(0.003)
        if not done.wait(delay):
            proc.kill()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join(10)

    return stop


def finish(proc: BaseProcess, stop: Callable[[], None], log: Path) -> str:
    """Wait for the process; how it ended: killed, ok, or failed (with a one-line error)."""
    proc.join(120)
    stop()
    if proc.exitcode == -9:
        return "killed"
    if proc.exitcode == 0:
        return "ok"
    out = log.read_text() if log.exists() else ""
    last = out.strip().splitlines()[-1:]
    assert proc.exitcode == 1 and last and last[0].startswith("error: "), \
        (proc.exitcode, out[-2000:])
    return "failed"


# --- comparing stores ------------------------------------------------------------------


Snapshot = dict[str, list[tuple]]


def snapshot(url: str) -> Snapshot:
    """Every row of the ingest tables, in key order."""
    store = Store(url)
    try:
        with store.begin() as conn:
            return {name: [tuple(r) for r in conn.execute(
                select(table).order_by(*table.primary_key.columns))]
                for name, table in TABLES.items()}
    finally:
        store.close()


@dataclass
class Diff:
    lost: int = 0  # rows of the clean run missing
    duplicated: int = 0  # keys present more than once
    extra: int = 0  # rows the clean run does not have
    changed: int = 0  # same key, other content

    def __iadd__(self, o: Diff) -> Diff:
        self.lost += o.lost
        self.duplicated += o.duplicated
        self.extra += o.extra
        self.changed += o.changed
        return self

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.extra or self.changed)


def compare(clean: Snapshot, got: Snapshot) -> dict[str, Diff]:
    out = {}
    for name, table in TABLES.items():
        n = len(table.primary_key.columns)
        want = {r[:n]: r for r in clean[name]}
        keys = Counter(r[:n] for r in got[name])
        have = {r[:n]: r for r in got[name]}
        out[name] = Diff(lost=len(want.keys() - have.keys()),
                         duplicated=sum(c - 1 for c in keys.values()),
                         extra=len(have.keys() - want.keys()),
                         changed=sum(have[k] != want[k] for k in want.keys() & have.keys()))
    return out


class Stores:
    """Fresh SQLite stores for trials, a file per name; `PgStores` hands out PostgreSQL
    databases through the same interface (a URL per name)."""

    kind = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._template = self.url("_empty")
        Store(self._template).close()  # migrated once; copies skip the migrations

    def url(self, name: str) -> str:
        return f"sqlite:///{self.folder / name}.sqlite"

    def path(self, url: str) -> Path:
        return Path(url.removeprefix("sqlite:///"))

    def copy(self, source: str, name: str) -> str:
        url = self.url(name)
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path(url)}{suffix}").unlink(missing_ok=True)
        shutil.copy(self.path(source), self.path(url))
        return url

    def new(self, name: str) -> str:
        return self.copy(self._template, name)

    def drop(self, url: str) -> None:
        """A trial is over. SQLite files stay for a look (the folder is temporary)."""

    def close(self) -> None:
        pass


class PgStores(Stores):
    """Fresh PostgreSQL databases on `cluster` (tests/pg.py's `PgCluster`): a database per
    name, a copy is `CREATE DATABASE ... TEMPLATE` (no source connection may be open: every
    Store on it is closed first), a trial's database is dropped once it is compared."""

    kind = "postgresql"
    _ids = itertools.count()

    def __init__(self, cluster: PgCluster) -> None:
        self.cluster = cluster
        self.prefix = f"k{os.getpid()}_{next(self._ids)}_"
        self.made: set[str] = set()
        self._template = self.url("_empty")
        Store(self._template).close()

    def _db(self, name: str) -> str:
        return self.prefix + re.sub(r"[^a-z0-9]", "_", name.lower())

    def _sql(self, statement: str) -> None:
        with self.cluster.admin.connect() as conn:
            conn.execute(text(statement))

    def url(self, name: str) -> str:
        """The database `name`, made (empty) on first use, as a SQLite file is."""
        db = self._db(name)
        if db not in self.made:
            self._sql(f'CREATE DATABASE "{db}"')
            self.made.add(db)
        return self.cluster.url(db)

    def path(self, url: str) -> Path:
        raise TypeError(f"{url} is a PostgreSQL database, not a file")

    def copy(self, source: str, name: str) -> str:
        db, src = self._db(name), source.rsplit("/", 1)[1]
        self._drop(db)
        # FILE_COPY: copies the files (fsync is off) rather than logging every page to WAL,
        # which took a trial ~0.3 s longer
        self._sql(f'CREATE DATABASE "{db}" TEMPLATE "{src}" STRATEGY FILE_COPY')
        self.made.add(db)
        return self.cluster.url(db)

    def _drop(self, db: str) -> None:
        # FORCE: the server may still hold the session of a process killed mid-query
        self._sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.made.discard(db)

    def drop(self, url: str) -> None:
        self._drop(url.rsplit("/", 1)[1])

    def close(self) -> None:
        for db in sorted(self.made):
            self._drop(db)


# --- ingest ----------------------------------------------------------------------------


def arxiv_env(server: ArxivServer, folder: Path) -> dict[str, str]:
    return {"PAPERSIFT_ARXIV_RSS_URL": f"{server.url}/rss",
            "PAPERSIFT_ARXIV_OAI_URL": f"{server.url}/oai",
            "PAPERSIFT_ARXIV_API_URL": f"{server.url}/api/query",
            "PAPERSIFT_ARXIV_CATEGORIES": "cs.CL",
            "PAPERSIFT_ARXIV_MIN_INTERVAL": "0.005",
            "PAPERSIFT_ARXIV_TIMEOUT": str(TIMEOUT),
            "PAPERSIFT_ARXIV_MAX_RETRIES": "4",
            "PAPERSIFT_ARXIV_BACKOFF": "0.01",
            "PAPERSIFT_ARXIV_CONTACT": "tests@example.org",
            "XDG_CONFIG_HOME": str(folder / "no-config")}


def ingest_server(days: dict[str, list[dict]]) -> ArxivServer:
    """Both days by OAI-PMH (a fifth of the papers at v2) and by the API; DAY2's feed with
    replacements of DAY1 papers."""
    server = ArxivServer(days, page_size=PAGE)
    records = [r for rs in days.values() for r in rs]
    server.oai_records = [revised(r, DAY2) if i % 5 == 0 else r for i, r in enumerate(records)]
    server.feed_day = DAY2
    server.replacements = [revised(r, DAY2) for r in days[DAY1][:30]]
    return server


@dataclass
class IngestResult:
    seed: int
    command: str
    ended: str  # killed | ok | failed: how the process the kill was aimed at ended
    reruns: int
    failures: int  # runs (the first or reruns) that gave up with a clean error
    diff: dict[str, Diff]


class IngestTrials:
    """Kill -9 trials of `papersift fetch` against `server` (started by the caller)."""

    def __init__(self, server: ArxivServer, stores: Stores, folder: Path) -> None:
        self.server, self.stores, self.folder = server, stores, folder
        self.env = {**os.environ, **arxiv_env(server, folder)}
        self.ids = sorted({r["id"] for rs in server.days.values() for r in rs})
        self.clean: dict[str, Snapshot] = {}
        self.requests: dict[str, int] = {}
        self.injected: Counter[str] = Counter()
        for command in COMMANDS:  # clean runs: no faults, no kills
            url = stores.new(f"clean-{command}")
            before = len(server.requests)
            self._rerun(command, url)
            self.clean[command] = snapshot(url)
            self.requests[command] = len(server.requests) - before

    def argv(self, command: str) -> list[str]:
        ids = [a for i in self.ids for a in ("--ids", i)] if command == "lookup" else []
        return COMMANDS[command] + ids

    def _settings(self, url: str) -> config.Settings:
        return config.load(None, env={**arxiv_env(self.server, self.folder),
                                      "PAPERSIFT_STORE_URL": url})

    def _rerun(self, command: str, url: str) -> None:
        """What the user does next: the same fetch, in this process."""
        store = Store(url)
        try:
            fetch(self._settings(url), store, feed=command == "feed",
                  ids=self.ids if command == "lookup" else None,
                  oai_from=DAY1 if command == "harvest" else None,
                  oai_until=DAY2 if command == "harvest" else None)
        finally:
            store.close()

    def run(self, seed: int) -> IngestResult:
        rng = random.Random(seed)
        command = rng.choices(list(COMMANDS), [3, 1, 1])[0]
        url = self.stores.new(f"trial-{seed}")
        schedule = FaultSchedule(rng, FAULT_P, FAULTS, WEIGHTS)
        self.server.schedule(schedule)
        start = len(self.server.requests)
        at = start + rng.randint(1, self.requests[command] + 1)  # +1: after the last one too
        log = self.folder / f"trial-{seed}.log"
        proc = start_cli(self.argv(command), {**self.env, "PAPERSIFT_STORE_URL": url}, log)
        stop = kill_when(proc, lambda: len(self.server.requests) >= at, rng.uniform(0, 0.03))
        ended = finish(proc, stop, log)
        if rng.random() < 0.2:
            self.server.expire_tokens()  # as if arXiv restarted while we were down
        failures, reruns = int(ended == "failed"), 0
        while True:
            reruns += 1
            try:
                self._rerun(command, url)
                break
            except SourceError as e:  # faults outlasted the retries: rerun later
                assert "\n" not in str(e) and ": " in str(e), str(e)
                failures += 1
                assert failures < 8, f"seed {seed}: gave up {failures} times"
        self.server.schedule(None)
        self.injected += schedule.injected
        diff = compare(self.clean[command], snapshot(url))
        self.stores.drop(url)
        return IngestResult(seed, command, ended, reruns, failures, diff)


# --- the daily job ---------------------------------------------------------------------

STAGES = ("ingest", "rank", "deliver", "any")
USER = "ann"


@dataclass
class DailyResult:
    seed: int
    aimed_at: str  # the stage the kill was aimed at
    ended: str
    stage: str  # where the run stood when it ended (runs.stage)
    hook_accepted: int  # webhook messages the receiver accepted for the day
    hook_resent: int  # of them, sent again in the documented window (see `_count`)
    feed_items: int  # items of the day in the feed file
    same_digest: bool
    violations: list[str] = field(default_factory=list)


class DailyTrials:
    """Kill -9 trials of `papersift daily` (fetch today's feed → rank → deliver to a webhook
    and a feed file); the rerun must deliver each (user, day, channel) exactly once.
    With `others` (user → library ids), `papersift daily --all-users` with two forked
    workers, the kill landing in the parent while workers rank and deliver."""

    def __init__(self, server: ArxivServer, hooks: WebhookReceiver, stores: Stores,
                 folder: Path, day: str, library: list[str],
                 others: dict[str, list[str]] | None = None) -> None:
        """`server` serves `day`'s feed; `stores.url("daily-base")` holds the background
        and the `library` papers. A clean run (in this process) gives the reference digests
        and computes every embedding the day needs, copied into the base store so that no
        trial process loads a model."""
        self.server, self.hooks, self.stores, self.folder = server, hooks, stores, folder
        self.day, self.library, self.others = day, library, others or {}
        self.name = "all" if others else "daily"
        self.base = stores.copy(stores.url("daily-base"), f"{self.name}-start")
        self.users = [USER, *sorted(self.others)]
        self.stages = (*STAGES, "workers") if others else STAGES
        store = Store(self.base)
        for user, ids in self.others.items():
            store.sync_source(user, "ids:1", "ids", "list.txt", ids)
        store.close()
        self.injected: Counter[str] = Counter()
        url = stores.copy(self.base, f"{self.name}-clean")
        cfg, env = self.config(0, url)
        settings = config.load(cfg, env=env)
        if others:
            results = daily_all(settings, day, embedder=StaticMiniLM(), send=False)
        else:
            results = {USER: daily(settings, day, embedder=StaticMiniLM(), send=False)}
        self.reference = {u: [e.paper.id for e in r.digest.entries] for u, r in results.items()}
        assert sorted(self.reference) == self.users and all(self.reference.values()), \
            "the clean daily run picked nothing for someone"
        copy_embeddings(url, self.base, StaticMiniLM.base_key)

    def config(self, seed: int, url: str) -> tuple[Path, dict[str, str]]:
        folder = self.folder / f"{self.name}-{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        cfg = folder / "config.toml"
        cfg.write_text(daily_config(self.hooks.url, folder / "feed.xml", self.library))
        env = {**os.environ, **arxiv_env(self.server, self.folder),
               "PAPERSIFT_STORE_URL": url, "PAPERSIFT_DIGEST_OUT_DIR": str(folder / "out"),
               "PAPERSIFT_EMBEDDING_BACKEND": "minilm-static", "PAPERSIFT_DIGEST_WORKERS": "2"}
        return cfg, env

    def run(self, seed: int) -> DailyResult:
        rng = random.Random(seed)
        stages = self.stages
        aimed = stages[seed % len(stages)]
        url = self.stores.copy(self.base, f"{self.name}-{seed}")
        cfg, env = self.config(seed, url)
        schedule = FaultSchedule(rng, FAULT_P, FAULTS, WEIGHTS)
        self.server.schedule(schedule)
        with self.hooks.lock:
            self.hooks.requests.clear()
        watch = Store(url)
        feeds = len(self.server.requests_to("/rss"))

        def stage_is(name: str) -> Callable[[], bool]:
            return lambda: any(r["stage"] == name for r in watch.runs(1))

        ready, delay = {
            "ingest": (lambda: len(self.server.requests_to("/rss")) > feeds,
                       rng.uniform(0, 0.05)),
            "rank": (stage_is("rank"), rng.uniform(0, 0.5)),
            "deliver": (stage_is("deliver"), rng.uniform(0, 0.1)),
            "any": (lambda: True, rng.uniform(0.3, 2.5)),
            # --all-users: a worker is mid-run on a user other than the parent's first
            "workers": (lambda: any(r["user"] != USER and r["status"] == "running"
                                    for r in watch.runs(5)), rng.uniform(0, 0.05)),
        }[aimed]
        log = cfg.parent / "daily.log"
        argv = ["--config", str(cfg), "daily", "--date", self.day,
                *(["--all-users"] if self.others else [])]
        proc = start_cli(argv, env, log)
        ended = finish(proc, kill_when(proc, ready, delay), log)
        stage = watch.runs(1)[0]["stage"] if watch.runs(1) else "before start"
        # Claimed but not recorded as accepted: the kill may have landed after the receiver
        # answered and before the commit, the one window where a resend is documented.
        in_flight = {d.user for d in watch.deliveries(day=self.day)
                     if d.channel == "hook" and d.status == "sending" and d.parts == 0}
        watch.close()
        self.server.schedule(None)  # the rerun: arXiv is fine again
        self.injected += schedule.injected
        for _ in range(2):  # the user's rerun, then the next scheduled run: it sends nothing
            rerun = CliRunner().invoke(main, argv, env=env)
            assert rerun.exit_code == 0, (seed, rerun.output)
        result = self._count(seed, aimed, ended, stage, url, cfg.parent / "feed.xml",
                             in_flight)
        self.stores.drop(url)
        return result

    def _count(self, seed: int, aimed: str, ended: str, stage: str, url: str, feed: Path,
               in_flight: set[str]) -> DailyResult:
        """What the receivers got, counted per (user, day, channel): each exactly once. The
        one exception is the documented edge: a webhook the kill left `in_flight` (claimed,
        not recorded as accepted), taken over by a single attempt of the rerun, may arrive
        twice with one Idempotency-Key (the receiver folds the copies): `hook_resent`."""
        accepted = [r for r in self.hooks.accepted() if r.path == "/hook"]
        hooks = Counter(r.headers.get("idempotency-key") for r in accepted)
        side = feed.with_name(feed.name + ".items.json")
        items = json.loads(side.read_text()) if side.exists() else []
        store = Store(url)
        digests = {u: [e.paper_id for e in store.digest(u, self.day) or []] for u in self.users}
        # the attempt killed in flight (no outcome), then the rerun's one, which sent
        taken_over = {u for u in in_flight if [a["outcome"] for a in store.delivery_attempts(
            u, self.day, "hook")][-2:] == [None, "sent"]}
        store.close()
        feed_keys = Counter(i["key"] for i in items)
        result = DailyResult(seed, aimed, ended, stage, len(accepted), 0, len(items),
                             digests == self.reference)
        for user in self.users:
            n = hooks.pop(delivery_key(user, self.day, "hook"), 0)
            if n == 2 and user in taken_over:
                result.hook_resent += 1
            elif n != 1:
                result.violations.append(f"webhook: {user}'s digest received {n} times")
        if hooks:
            result.violations.append(f"webhook: keys of no user's digest {dict(hooks)}")
        if feed_keys != Counter(delivery_key(u, self.day, "feed") for u in self.users):
            result.violations.append(f"feed: {len(items)} items, keys {dict(feed_keys)}")
        if not result.same_digest:
            result.violations.append("digests differ from the clean run's")
        return result


def previous_weekday(day: str) -> str:
    d = date.fromisoformat(day) - timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d.isoformat()


def build_daily_base(stores: Stores, records: dict[str, list[dict]], day: str,
                     folder: Path) -> list[str]:
    """The daily trials' base store: DAY1's papers, announced the listing day before `day`,
    are the background; five of its cs.CL papers are the library (returned)."""
    dump = folder / "background.jsonl"
    with open(dump, "w") as f:
        for r in records[DAY1]:
            f.write(json.dumps({**r, "announced": previous_weekday(day)}) + "\n")
    base = Store(stores.url("daily-base"))
    import_dump(base, dump)  # a second call (another fixture) changes nothing
    base.close()
    return [r["id"] for r in records[DAY1] if r["categories"].split()[0] == "cs.CL"][:5]


@contextmanager
def open_daily_trials(records: dict[str, list[dict]], stores: Stores, folder: Path,
                      all_users: bool) -> Iterator[DailyTrials]:
    """Today's feed is DAY2's papers, served with a webhook receiver; DAY1's are the
    background and the libraries (`all_users`: four more users, `daily --all-users`)."""
    day = latest_listing_day()
    library = build_daily_base(stores, records, day, folder)
    with ArxivServer({day: records[DAY2]}) as server, WebhookReceiver() as hooks:
        server.feed_day = day
        yield DailyTrials(server, hooks, stores, folder, day, library,
                          other_libraries(records) if all_users else None)


def other_libraries(records: dict[str, list[dict]]) -> dict[str, list[str]]:
    """Four more users of the daily base (two for each worker), with libraries of DAY1
    papers of their own."""
    by = {c: [r["id"] for r in records[DAY1] if r["categories"].split()[0] == c]
          for c in ("cs.AI", "cs.IR", "cs.CL")}
    return {"bo": by["cs.AI"][:5], "cy": by["cs.IR"][:5], "di": by["cs.AI"][5:10],
            "ed": by["cs.CL"][5:10]}


def copy_embeddings(source: str, target: str, model: str) -> None:
    src, dst = Store(source), Store(target)
    with src.begin() as conn:
        ids = list(conn.execute(select(t.papers.c.id)).scalars())
    papers = list(src.get_papers(ids).values())
    vecs = src.get_embeddings(papers, model)
    dst.put_embeddings(model, [(p, vecs[p.id]) for p in papers if p.id in vecs])
    src.close()
    dst.close()


def daily_config(hooks_url: str, feed: Path, library: list[str]) -> str:
    return f"""[profile]
user = "{USER}"
ids = {json.dumps(library)}
keywords = ["language model", "reasoning"]
[web]
base_url = "https://papers.example.org"
[delivery]
backoff = 0.01
timeout = 2.0
[[channel]]
name = "hook"
type = "webhook"
url = "{hooks_url}/hook"
[[channel]]
name = "feed"
type = "feed"
path = "{feed}"
"""

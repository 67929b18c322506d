"""Per-user ranking cost: fit + rank one listing day for 1, 100 and 1,000 users.

    python benchmarks/users.py --dump FILE [--day 2025-09-15] [--ranker papersift]
    python benchmarks/users.py --dump FILE --daily 1000 [--out benchmarks/RESULTS.md]

`--daily N` times the whole daily job for N users (`papersift daily --all-users --no-send`:
load, rank, store and render every digest) on SQLite and on the same store copied into a
throwaway PostgreSQL cluster, each in a fresh process (wall time and its peak RSS).

Users are synthetic but real-looking: each takes 40–200 papers of one shared curated list
(../shared/data/lists) as its library. The day's candidates, the 90-day background and the
embeddings come from the store (embedded first if missing; cached afterwards). The shared
per-period state (vocabulary, background statistics) is built once and timed separately.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import inputs  # benchmarks/, the script's folder
import numpy as np
import sections  # benchmarks/, the script's folder

from papersift import config
from papersift.backtest import Corpus, paper_date
from papersift.jobs import USERS_PER_TASK
from papersift.profile.config_source import read_id_file
from papersift.rank import blend
from papersift.rank.base import (
    Background,
    Candidates,
    UserProfile,
    background_sample,
    background_start,
    get_ranker,
)
from papersift.rank.embed import embed_papers, make_embedder
from papersift.store import Store
from papersift.workers import fork_map, worker_count

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.pg: the throwaway PostgreSQL cluster


def measure(corpus: Corpus, lists_dir: Path, day: str, ranker: str,
            counts: list[int], workers: int = 1, repeat: int = 3) -> list[str]:
    """Markdown lines: wall time (median of `repeat` runs) and peak RSS of fit + rank for
    each number of users."""
    settings = config.load(None)
    store, embedder = Store(settings.store_url), make_embedder(settings)
    start = background_start(day)
    recent = corpus.announced_between(start, day)
    sample = background_sample(recent)
    cands = sorted(corpus.by_day[day], key=lambda p: p.id)
    lists = [[corpus.by_id[i] for i in read_id_file(f) if i in corpus.by_id
              and paper_date(corpus.by_id[i]) < day] for f in sorted(lists_dir.glob("*.txt"))]
    pool = {p.id: p for lib in lists for p in lib}
    everything = list(pool.values()) + sample + cands
    vec = dict(zip([p.id for p in everything], embed_papers(store, embedder, everything),
                   strict=True))
    background = Background(recent, Candidates(sample, np.stack([vec[p.id] for p in sample])))
    today = Candidates(cands, np.stack([vec[p.id] for p in cands]))
    rng = random.Random(0)

    def user(n: int) -> UserProfile:
        lib = rng.choice([x for x in lists if len(x) >= 40])
        lib = rng.sample(lib, min(len(lib), rng.randint(40, 200)))
        return UserProfile(f"u{n}", lib, np.stack([vec[p.id] for p in lib]),
                           np.ones(len(lib), dtype=int))

    t0 = time.perf_counter()
    get_ranker(ranker).fit(user(0), background).rank(today, explain=0)
    shared = time.perf_counter() - t0
    rows = [f"Ranker `{ranker}`, day {day} ({len(cands)} candidates, background "
            f"{len(recent)} papers, embedded sample {len(sample)}), embeddings "
            f"`{embedder.key}`; {os.cpu_count()} cores.", "",
            f"First user, including the shared per-period state: {shared:.2f} s.", "",
            f"| users | fit + rank wall s (median of {repeat}) | range | CPU s | "
            "per user ms (wall) | peak RSS MiB |", "|---|---|---|---|---|---|"]
    for n in counts:
        profiles = [user(i) for i in range(n)]

        def one_process(profiles: list[UserProfile] = profiles) -> None:
            for prof in profiles:
                get_ranker(ranker).fit(prof, background).rank(today, explain=10)

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append(f"| {n} | {_timed(one_process, repeat, n)} | {rss:.0f} |")
    workers = worker_count(workers)
    if workers > 1:  # the largest count again, over the daily job's forked workers

        def task(part: list[int]) -> list:  # a digest's worth of picks travels back
            return [get_ranker(ranker).fit(profiles[i], background).rank(today, explain=10)
                    [:20] for i in part]

        def forked() -> None:
            picks = [s for part in fork_map(task, range(len(profiles)), workers,
                                            USERS_PER_TASK) for s in part]
            assert len(picks) == len(profiles)

        row = _timed(forked, repeat, len(profiles))
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rows.append(f"| {len(profiles)}, {workers} worker processes | {row} | "
                    f"{rss:.0f} (largest worker) |")
    rows += ["", *_period_builds(background, repeat)]
    return [*rows, "", "CPU s is the CPU time of the process and its workers (both cores): "
            "on a busy machine it shows the cost that wall time hides. Peak RSS is the whole "
            "process's (corpus, embeddings and model included). Worker processes are forked "
            "as `papersift daily --all-users` forks them (`papersift.workers.fork_map`, "
            f"{USERS_PER_TASK} users a task, each worker limited to one BLAS thread); their "
            "time includes forking them and sending each user's top 20 back. "
            "Target: ≤ 10 s for 1,000 users.", ""]


def _period_builds(background: Background, repeat: int) -> list[str]:
    """The shared per-period state built from scratch (as on a new day), its TF-IDF fitted by
    papersift's `fit_tfidf` and, as the baseline, by sklearn's own `fit_transform`,
    interleaved; both must give the same period."""
    fits = {"sklearn `TfidfVectorizer.fit_transform` (baseline)":
            lambda tfidf, texts: tfidf.fit_transform(texts),
            "`rank/tfidf_fit.py: fit_tfidf` (papersift)": blend.fit_tfidf}
    times: dict[str, list[float]] = {name: [] for name in fits}
    built = {}
    try:
        for _ in range(repeat):
            for name, fit in fits.items():
                blend.fit_tfidf = fit  # type: ignore[assignment]
                t0 = time.perf_counter()
                built[name] = blend._build_period(background)
                times[name].append(time.perf_counter() - t0)
    finally:
        blend.fit_tfidf = fits["`rank/tfidf_fit.py: fit_tfidf` (papersift)"]
    a, b = built.values()
    assert a.tfidf.vocabulary_ == b.tfidf.vocabulary_ and np.array_equal(a.bg_df, b.bg_df)
    base = float(np.median(next(iter(times.values()))))
    return [f"The per-period state built from scratch (a new day; {len(background.papers)} "
            f"background papers), median of {repeat}, interleaved; both give the same "
            "vocabulary and document frequencies:", "",
            "| TF-IDF fitted by | period build s | range | ratio |", "|---|---|---|---|",
            *[f"| {name} | {np.median(ts):.2f} | {min(ts):.2f}–{max(ts):.2f} | "
              f"{np.median(ts) / base:.2f}× |" for name, ts in times.items()]]


def _timed(run: Callable[[], None], repeat: int, users: int) -> str:
    """Table cells of `run` timed `repeat` times: median wall s, range, its CPU s, wall ms
    per user (the machine's speed drifts between runs, hence the median and range)."""
    runs = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), _cpu()
        run()
        runs.append((time.perf_counter() - t0, _cpu() - c0))
    wall, cpu = sorted(runs)[len(runs) // 2]
    return (f"{wall:.2f} | {min(runs)[0]:.2f}–{max(runs)[0]:.2f} | {cpu:.2f} | "
            f"{1000 * wall / users:.1f}")


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (forked workers)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def daily_users(corpus: Corpus, lists_dir: Path, day: str, n: int, store_url: str) -> list[str]:
    """Give `n` synthetic users (libraries as in `measure`) to the store; embed what their
    daily run needs, so the timed runs measure ranking, not embedding. Returns their names."""
    from papersift.jobs import SharedDay

    settings = config.load(None, env=dict(os.environ, PAPERSIFT_STORE_URL=store_url))
    store, embedder = Store(store_url), make_embedder(settings)
    lists = [[i for i in read_id_file(f) if i in corpus.by_id and
              paper_date(corpus.by_id[i]) < day] for f in sorted(lists_dir.glob("*.txt"))]
    rng = random.Random(0)
    names = []
    for k in range(n):
        lib = rng.choice([x for x in lists if len(x) >= 40])
        names.append(f"u{k:04d}")
        store.sync_source(names[-1], "ids:1", "ids", "list.txt",
                          rng.sample(lib, min(len(lib), rng.randint(40, 200))))
    shared = SharedDay(store, day, True)
    pool = store.get_papers(sorted({i for x in lists for i in x}))
    shared.embed(store, embedder, [*pool.values(), *store.listing(day), *shared.sample])
    store.close()
    return names


def run_daily(store_url: str, day: str, names: list[str], out_dir: Path) -> dict:
    """One timed `daily_all` (this process is fresh: its peak RSS is the job's)."""
    from papersift.jobs import daily_all

    settings = config.load(None, env=dict(os.environ, PAPERSIFT_STORE_URL=store_url,
                                          PAPERSIFT_DIGEST_OUT_DIR=str(out_dir),
                                          PAPERSIFT_ARXIV_OFFLINE="1"))
    t0, c0 = time.perf_counter(), _cpu()
    results = daily_all(settings, day, users=names, send=False)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    return {"users": len(results), "wall": wall, "cpu": cpu,
            "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "entries": sum(len(r.digest.entries) for r in results.values()),
            "files": sum(len(r.files) for r in results.values())}


def _forget_digests(url: str, day: str) -> None:
    """Delete the day's digests (benchmark stores only: papersift never deletes one)."""
    from sqlalchemy import delete, select

    from papersift.store import schema as t

    store = Store(url)
    with store.begin() as conn:
        ids = select(t.digests.c.id).where(t.digests.c.day == day)
        conn.execute(delete(t.digest_entries).where(t.digest_entries.c.digest_id.in_(ids)))
        conn.execute(delete(t.digests).where(t.digests.c.day == day))
    store.close()


BACKFILL_MONTHS = {"SQLite": ("2025-10-01", "2025-11-01"),
                   "PostgreSQL": ("2025-08-01", "2025-09-01")}


def measure_backfill(kind: str, url: str) -> str:
    """A table row: `papersift embed --since --until` over one month (minilm-static, a fresh
    process, store writes included) vs encoding the same texts in-process (the baseline)."""
    from papersift.rank.embed import StaticMiniLM

    since, until = BACKFILL_MONTHS[kind]
    store = Store(url)
    texts = [p.text for p in store.get_papers(store.papers_announced_between(since, until))
             .values()]
    store.close()
    model = StaticMiniLM()
    model.encode(texts[:64])
    t0 = time.perf_counter()
    model.encode(texts)
    base = time.perf_counter() - t0
    env = dict(os.environ, PAPERSIFT_STORE_URL=url, PAPERSIFT_EMBEDDING_BACKEND="minilm-static")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "papersift", "embed", "--since", since,
                          "--until", until], env=env, check=True, capture_output=True,
                         text=True).stdout
    wall = time.perf_counter() - t0
    n = int(out.split()[1])  # "embedded N papers …"
    return (f"| {kind} | {since[:7]} | {n:,} | {wall:.1f} | {n / wall:,.0f} | "
            f"{len(texts) / base:,.0f} | {wall / base:.2f}× |")


def measure_daily(dump: Path, lists_dir: Path, day: str, n: int) -> list[str]:
    """Markdown lines: the daily job for `n` users on SQLite and on PostgreSQL."""
    from papersift.sources.dump import import_dump
    from papersift.store.copy import copy_store
    from tests.pg import PgCluster

    folder = Path(tempfile.mkdtemp(prefix="papersift-bench-users-"))
    sqlite_url = f"sqlite:///{folder / 'store.sqlite'}"
    t = time.perf_counter()
    import_dump(Store(sqlite_url), dump)
    imported = time.perf_counter() - t
    backfill = [measure_backfill("SQLite", sqlite_url)]
    names = daily_users(Corpus.load(dump), lists_dir, day, n, sqlite_url)
    cluster = PgCluster(Path(tempfile.mkdtemp(prefix="papersift-bench-pg-")))
    try:
        pg_url = cluster.new_database()
        t = time.perf_counter()
        copy_store(sqlite_url, pg_url)
        copied = time.perf_counter() - t
        backfill.append(measure_backfill("PostgreSQL", pg_url))
        rows = {}
        for kind, url in (("SQLite", sqlite_url), ("PostgreSQL", pg_url)):
            for workers in (1, 0):  # none, then the default: one per core
                _forget_digests(url, day)  # else the second run would find them all stored
                child = subprocess.run([sys.executable, __file__, "--dump", str(dump),
                                        "--child", url, "--day", day], capture_output=True,
                                       text=True, input="\n".join(names),
                                       env=dict(os.environ,
                                                PAPERSIFT_DIGEST_WORKERS=str(workers)))
                if child.returncode:
                    raise SystemExit(f"the {kind} run failed:\n{child.stderr[-3000:]}")
                rows[kind, worker_count(workers)] = json.loads(
                    child.stdout.strip().splitlines()[-1])
    finally:
        cluster.stop()
        shutil.rmtree(cluster.folder, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    lines = [f"`papersift daily --all-users --no-send` for {n:,} synthetic users (libraries of "
             f"40–200 papers from the curated lists), day {day}, ranker `papersift`, "
             f"embeddings `{make_embedder(config.load(None)).key}` cached beforehand; store: "
             f"the shared dump (import {imported:.0f} s), copied into a throwaway PostgreSQL "
             f"15 cluster on loopback in {copied:.0f} s; each run in a fresh process; "
             f"{os.cpu_count()} cores (load {os.getloadavg()[0]:.1f}), "
             f"{time.strftime('%Y-%m-%d')}. Command: `python benchmarks/users.py --dump "
             f"../shared/data/arxiv-cs-2024-2026.jsonl.gz --daily {n}`.", "",
             "| store | worker processes (`digest.workers`) | users | wall s | CPU s | "
             "per user ms | peak RSS MiB (job / largest worker) | digest entries | "
             "files written |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {k} | {w if w > 1 else 'none'} | {r['users']} | {r['wall']:.1f} | "
              f"{r['cpu']:.1f} | {1000 * r['wall'] / max(r['users'], 1):.0f} | {r['rss']:.0f}"
              f" / {round(r['worker_rss']) or '–'} | {r['entries']} | {r['files']} |"
              for (k, w), r in rows.items()]
    most = max(w for _, w in rows)
    speed = ", ".join(f"{k} {rows[k, most]['wall'] / rows[k, 1]['wall']:.2f}×"
                      for k in ("SQLite", "PostgreSQL"))
    ratio = rows["PostgreSQL", 1]["wall"] / rows["SQLite", 1]["wall"]
    return [*lines, "", f"{most} worker processes / none, wall time: {speed}. PostgreSQL / "
            f"SQLite wall time: {ratio:.2f}× (no workers). The job covers, per user: profile "
            "sync, exclusion of papers already shown or rated, fit + rank, storing the digest "
            "and rendering its Markdown and HTML files; the day's candidates, background and "
            "vectors are loaded once for all users, and the first user is ranked before the "
            "workers are forked, so they inherit the shared per-period state. CPU s counts the "
            "workers.", "",
            "### Embedding backfill (`papersift embed --since … --until …`, minilm-static)", "",
            "One month of papers without vectors, a fresh process (model load and store "
            "writes included) against encoding the same texts in-process (baseline, same run).",
            "", "| store | month | papers | wall s | papers/s | baseline papers/s | "
            "wall vs baseline |", "|---|---|---|---|---|---|---|", *backfill, ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dump", type=Path, required=True)
    ap.add_argument("--lists", type=Path, default=ROOT.parent / "shared" / "data" / "lists")
    ap.add_argument("--day", default="2025-09-15")
    ap.add_argument("--ranker", default="papersift")
    ap.add_argument("--users", default="1,100,1000")
    ap.add_argument("--repeat", type=int, default=3, help="Runs per count (median shown).")
    ap.add_argument("--workers", type=int, default=0,
                    help="Also rank the largest count over this many forked processes, as the "
                         "daily job does (0: one per core; 1: no such row).")
    ap.add_argument("--daily", type=int, help="Time the daily job for this many users.")
    ap.add_argument("--out", type=Path, help="Write the --daily section into this file.")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # one timed run on this store URL
    a = ap.parse_args()
    inputs.require(ap, a, "dump", "lists")
    if a.repeat < 1:  # a median needs a run
        ap.error("--repeat must be at least 1")
    if a.child:
        names = sys.stdin.read().split()
        print(json.dumps(run_daily(a.child, a.day, names, Path(tempfile.mkdtemp()))))
        return
    if a.daily:
        lines = measure_daily(a.dump, a.lists, a.day, a.daily)
        if a.out:
            sections.write(a.out, {"users-daily": ["## The daily job for many users "
                                                   "(`benchmarks/users.py --daily`)", "",
                                                   *lines]})
        print("\n".join(lines))
        return
    print("\n".join(measure(Corpus.load(a.dump), a.lists, a.day, a.ranker,
                           [int(x) for x in a.users.split(",")], a.workers, a.repeat)))


if __name__ == "__main__":
    main()

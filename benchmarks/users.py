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
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sections  # benchmarks/, the script's folder

from papersift import config
from papersift.backtest import Corpus, paper_date
from papersift.profile.config_source import read_id_file
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
        runs = []  # (wall, cpu) of each repetition: the machine's speed drifts between runs
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            for prof in profiles:
                get_ranker(ranker).fit(prof, background).rank(today, explain=10)
            runs.append((time.perf_counter() - t0, time.process_time() - c0))
        wall, cpu = sorted(runs)[len(runs) // 2]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append(f"| {n} | {wall:.2f} | {min(runs)[0]:.2f}–{max(runs)[0]:.2f} | {cpu:.2f} | "
                    f"{1000 * wall / n:.1f} | {rss:.0f} |")
    if workers > 1:  # the same users split over forked processes that inherit everything
        _FORKED[:] = [ranker, background, today, profiles]
        t0 = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(workers) as procs:
            procs.map(_rank_slice, [range(k, len(profiles), workers) for k in range(workers)])
        wall = time.perf_counter() - t0
        rows.append(f"| {len(profiles)}, {workers} processes | {wall:.2f} | – | – | "
                    f"{1000 * wall / len(profiles):.1f} | – |")
    return [*rows, "", "CPU s is the process's CPU time (both cores): on a busy machine it "
            "shows the cost that wall time hides. Peak RSS is the whole process's (corpus, "
            "embeddings and model included). Target: ≤ 10 s for 1,000 users.", ""]


_FORKED: list = []  # (ranker, background, today, profiles), inherited by forked workers


def _rank_slice(rows: range) -> None:
    ranker, background, today, profiles = _FORKED
    for i in rows:
        get_ranker(ranker).fit(profiles[i], background).rank(today, explain=10)


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
    t0, c0 = time.perf_counter(), time.process_time()
    results = daily_all(settings, day, users=names, send=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"users": len(results), "wall": wall, "cpu": cpu,
            "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "entries": sum(len(r.digest.entries) for r in results.values()),
            "files": sum(len(r.files) for r in results.values())}


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
            child = subprocess.run([sys.executable, __file__, "--dump", str(dump), "--child",
                                    url, "--day", day], capture_output=True, text=True,
                                   input="\n".join(names))
            if child.returncode:
                raise SystemExit(f"the {kind} run failed:\n{child.stderr[-3000:]}")
            rows[kind] = json.loads(child.stdout.strip().splitlines()[-1])
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
             "| store | users | wall s | CPU s | per user ms | peak RSS MiB | digest entries | "
             "files written |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {k} | {r['users']} | {r['wall']:.1f} | {r['cpu']:.1f} | "
              f"{1000 * r['wall'] / max(r['users'], 1):.0f} | {r['rss']:.0f} | {r['entries']} | "
              f"{r['files']} |" for k, r in rows.items()]
    ratio = rows["PostgreSQL"]["wall"] / rows["SQLite"]["wall"]
    return [*lines, "", f"PostgreSQL / SQLite wall time: {ratio:.2f}×. The job covers, per "
            "user: profile sync, exclusion of papers already shown or rated, fit + rank, "
            "storing the digest and rendering its Markdown and HTML files; the day's "
            "candidates, background and vectors are loaded once for all users.", "",
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
    ap.add_argument("--workers", type=int, default=1,
                    help="Also rank the largest count split over this many processes.")
    ap.add_argument("--daily", type=int, help="Time the daily job for this many users.")
    ap.add_argument("--out", type=Path, help="Write the --daily section into this file.")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # one timed run on this store URL
    a = ap.parse_args()
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

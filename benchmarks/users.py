"""Per-user ranking cost: fit + rank one listing day for 1, 100 and 1,000 users.

    python benchmarks/users.py --dump FILE [--day 2025-09-15] [--ranker papersift]

Users are synthetic but real-looking: each takes 40–200 papers of one shared curated list
(../shared/data/lists) as its library. The day's candidates, the 90-day background and the
embeddings come from the store (embedded first if missing; cached afterwards). The shared
per-period state (vocabulary, background statistics) is built once and timed separately.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time
from pathlib import Path

import numpy as np

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


def measure(corpus: Corpus, lists_dir: Path, day: str, ranker: str,
            counts: list[int]) -> list[str]:
    """Markdown lines: wall time and peak RSS of fit + rank for each number of users."""
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
            "| users | fit + rank wall s | CPU s | per user ms (wall) | peak RSS MiB |",
            "|---|---|---|---|---|"]
    for n in counts:
        profiles = [user(i) for i in range(n)]
        t0, c0 = time.perf_counter(), time.process_time()
        for prof in profiles:
            get_ranker(ranker).fit(prof, background).rank(today, explain=10)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append(f"| {n} | {wall:.2f} | {cpu:.2f} | {1000 * wall / n:.1f} | {rss:.0f} |")
    return [*rows, "", "CPU s is the process's CPU time (both cores): on a busy machine it "
            "shows the cost that wall time hides. Peak RSS is the whole process's (corpus, "
            "embeddings and model included). Target: ≤ 10 s for 1,000 users.", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dump", type=Path, required=True)
    ap.add_argument("--lists", type=Path, default=ROOT.parent / "shared" / "data" / "lists")
    ap.add_argument("--day", default="2025-09-15")
    ap.add_argument("--ranker", default="papersift")
    ap.add_argument("--users", default="1,100,1000")
    a = ap.parse_args()
    print("\n".join(measure(Corpus.load(a.dump), a.lists, a.day, a.ranker,
                           [int(x) for x in a.users.split(",")])))


if __name__ == "__main__":
    main()

"""The fault suite at benchmark size: many more kill -9 trials than tests/reliability runs
in CI, under the same seeded arXiv faults (429 + Retry-After, 503, timeouts, slow answers,
truncated bodies, cut XML, connection resets).

- ingest: `papersift fetch` (OAI-PMH harvest, daily feed or API lookup) killed at a random
  request, rerun until it succeeds; the store is compared row by row with a clean run's.
- daily: `papersift daily` (fetch → rank → deliver to a webhook and a feed file) killed in
  a random stage, rerun; what the receivers got is counted per (user, day, channel).
- all users: the same with `papersift daily --all-users` for five users, four of them
  ranked and delivered by two forked worker processes (kills also aimed at the workers).

    .venv/bin/python benchmarks/reliability.py --out benchmarks/RESULTS.md
    .venv/bin/python benchmarks/reliability.py --postgres   # the same on PostgreSQL

Writes its own section of benchmarks/RESULTS.md (replacing an earlier one): with
`--postgres` every trial store is a fresh database on a throwaway PostgreSQL cluster (as in
tests/reliability), reported in a section of its own.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sections  # noqa: E402  (benchmarks/, the script's folder)

from tests.arxiv_server import load_days  # noqa: E402
from tests.pg import throwaway_cluster  # noqa: E402
from tests.reliability.trials import (  # noqa: E402
    FAULT_P,
    FAULTS,
    Diff,
    IngestTrials,
    PgStores,
    Stores,
    ingest_server,
    open_daily_trials,
)

SECTION = "## Fault suite: kill -9 under injected faults (`benchmarks/reliability.py`)"
STORE = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def ingest(trials: int, seed: int, folder: Path, stores: Stores) -> dict:
    records = load_days()
    with ingest_server(records) as server:
        t0 = time.perf_counter()
        bench = IngestTrials(server, stores, folder)
        clean = (time.perf_counter() - t0) / 3
        t0 = time.perf_counter()
        results = [bench.run(s) for s in range(seed, seed + trials)]
        per_trial = (time.perf_counter() - t0) / trials
    totals = {name: Diff() for name in ("papers", "versions", "listings")}
    for r in results:
        for name, d in r.diff.items():
            totals[name] += d
    return {"results": results, "totals": totals, "injected": bench.injected,
            "clean_s": clean, "trial_s": per_trial,
            "rows": {c: {k: len(v) for k, v in snap.items()} for c, snap in bench.clean.items()}}


def daily(trials: int, seed: int, folder: Path, stores: Stores, all_users: bool) -> dict:
    with open_daily_trials(load_days(), stores, folder, all_users) as bench:
        t0 = time.perf_counter()
        results = [bench.run(s) for s in range(seed, seed + trials)]
        per_trial = (time.perf_counter() - t0) / trials
    return {"results": results, "injected": bench.injected, "trial_s": per_trial,
            "stages": bench.stages, "users": len(bench.users)}


def daily_table(day: dict) -> list[str]:
    """Where the kills landed, and what the receivers got."""
    dr = day["results"]
    aimed = Counter((r.aimed_at, r.ended) for r in dr)
    violations = [r for r in dr if r.violations]
    resent = sum(r.hook_resent for r in dr)
    lines = [
        "| aimed at | trials | killed | finished first | stage recorded in `runs` at the kill "
        "(`start`: ingesting) |",
        "|---|---|---|---|---|",
        *(f"| {s} | {sum(n for (a, _), n in aimed.items() if a == s)} | "
          f"{aimed[(s, 'killed')]} | {aimed[(s, 'ok')]} | " + ", ".join(
              f"{k} {n}" for k, n in sorted(Counter(
                  r.stage for r in dr if r.aimed_at == s and r.ended == "killed").items()))
          + " |" for s in day["stages"]), "",
        f"Deliveries checked: {2 * day['users'] * len(dr)} (user, day, channel); exactly-once "
        f"violations: **{len(violations)}** (a channel with no delivery, two deliveries, or a "
        f"digest unlike the clean run's); webhook messages sent again with the same "
        f"Idempotency-Key (a kill between the server's answer and the commit, the documented "
        f"edge): {resent}."]
    if violations:
        lines += ["", "Violations: " + "; ".join(f"seed {r.seed}: {r.violations}"
                                                  for r in violations)]
    return lines


def report(ing: dict, day: dict, every: dict, args: argparse.Namespace,
           kind: str) -> list[str]:
    ir = ing["results"]
    ended = Counter(r.ended for r in ir)
    commands = Counter(r.command for r in ir)
    t = ing["totals"]
    faults = ing["injected"] + day["injected"] + every["injected"]
    lines = [
        SECTION + (f", {STORE[kind]}" if kind != "sqlite" else ""), "",
        f"`.venv/bin/python benchmarks/reliability.py --trials {args.trials} --daily-trials "
        f"{args.daily_trials} --all-users-trials {args.all_users_trials} --seed {args.seed}"
        f"{' --postgres' if kind != 'sqlite' else ''}` "
        f"on {platform.machine()} "
        f"({time.strftime('%Y-%m-%d')}); each request to the local arXiv server fails with "
        f"probability {FAULT_P:g}, the kind drawn from the seeded schedule.", "",
        f"**Ingest** (`papersift fetch`, {STORE[kind]} store; a clean run stores "
        + "; ".join(f"{c}: {r['papers']} papers, {r['versions']} versions, {r['listings']} "
                    "listings" for c, r in ing["rows"].items()) + "):", "",
        "| trials | harvest / feed / lookup | killed mid-run | finished before the kill | "
        "gave up (clean one-line error), then resumed | reruns |",
        "|---|---|---|---|---|---|",
        f"| {len(ir)} | {commands['harvest']} / {commands['feed']} / {commands['lookup']} | "
        f"{ended['killed']} | {ended['ok']} | {sum(r.failures for r in ir)} | "
        f"{sum(r.reruns for r in ir)} |", "",
        "| rows vs the clean run | lost | duplicated | extra | changed |",
        "|---|---|---|---|---|",
        *(f"| {name} | {d.lost} | {d.duplicated} | {d.extra} | {d.changed} |"
          for name, d in t.items()), "",
        f"**Daily job** (`papersift daily`: today's feed → rank → webhook + feed file; "
        f"{STORE[kind]} store), kill aimed at a stage:", "", *daily_table(day), "",
        f"**Daily job for every user** (`papersift daily --all-users`, {every['users']} users: "
        "the first ranked by the job itself, the others by two forked workers "
        "(`digest.workers = 2`); `workers`: the kill lands while a worker is mid-run), kill "
        "aimed at a stage:", "", *daily_table(every), "",
        "**Faults injected**: " + ", ".join(f"{k} {faults[k]}" for k in FAULTS)
        + f" ({sum(faults.values())} in all).", "",
        f"Time: a clean ingest run {ing['clean_s']:.2f} s; an ingest trial (killed run + "
        f"reruns + comparison) {ing['trial_s']:.2f} s; a daily trial {day['trial_s']:.2f} s; "
        f"an all-users trial {every['trial_s']:.2f} s.",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=200, help="ingest kill trials")
    ap.add_argument("--daily-trials", type=int, default=40, help="daily-job kill trials")
    ap.add_argument("--all-users-trials", type=int, default=25,
                    help="kill trials of the daily job for every user, with workers")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--postgres", action="store_true",
                    help="trial stores on a throwaway PostgreSQL cluster (initdb, pg_ctl)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = ap.parse_args()
    kind = "postgresql" if args.postgres else "sqlite"
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        if args.postgres:
            stores: Stores = PgStores(stack.enter_context(throwaway_cluster()))
        else:
            stores = Stores(folder / "stores")
        stack.callback(stores.close)
        ing = ingest(args.trials, args.seed, folder, stores)
        day = daily(args.daily_trials, args.seed, folder, stores, all_users=False)
        every = daily(args.all_users_trials, args.seed, folder, stores, all_users=True)
    lines = report(ing, day, every, args, kind)
    print("\n".join(lines))
    sections.write(args.out, {"reliability" + ("-postgresql" if args.postgres else ""): lines})


if __name__ == "__main__":
    main()

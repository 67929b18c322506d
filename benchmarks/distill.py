"""Distillation (`llm.distill`) measured against a list's held-out truth, not the judge.

    .venv/bin/python benchmarks/distill.py --out benchmarks/RESULTS.md

The dev-split list replay of ../shared/EVAL.md over each list's first `--days` test days.
Each day the local ranker ranks the candidates and the LLM layer (`llm.rerank`, lift check
included) judges its top `--top-n`, as the daily job does. The judge is the stub model of
tests/llm_server.py in "oracle" mode, driven by a file this script writes: relevance 9 for
the list's papers of those days, 1 for the others, each answer flipped (9 ↔ 1) with
probability `--errors` (the same paper gets the same answer every time). With distillation
on, `llm.distill.distill` turns the stored judgements into the "llm" library source and the
local ranker is refitted on the library plus those papers before the next day; off, it is
fitted once on the library. The figure is the *local* ranker's ndcg@10 (EVAL.md) on days
2..N — day 1 is the same in both arms — with the digest's ndcg@10 after the rerank beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import inputs  # noqa: E402  (benchmarks/, the script's folder)
import sections  # noqa: E402  (benchmarks/, the script's folder)
from feedback import _daily_gains, _gain_interval  # noqa: E402  (the same paired interval)

from papersift import config  # noqa: E402
from papersift.backtest import (  # noqa: E402
    Corpus,
    Replay,
    Task,
    list_metrics,
    macro,
    ndcg10,
    tasks_from_splits,
)
from papersift.llm import prompts  # noqa: E402
from papersift.llm.client import Client  # noqa: E402
from papersift.llm.distill import SOURCE, distill  # noqa: E402
from papersift.llm.rerank import rerank  # noqa: E402
from papersift.quality.train import read_signals  # noqa: E402
from papersift.rank.base import Background, Candidates, UserProfile, get_ranker  # noqa: E402
from papersift.rank.embed import make_embedder  # noqa: E402
from papersift.records import Paper  # noqa: E402
from papersift.store import Store  # noqa: E402
from tests.llm_server import LLMServer  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SECTION = "llm-distill"  # a block inside the llm block (benchmarks/llm.py keeps it)
RELEVANT, IRRELEVANT = 9, 1  # the oracle's two answers (distillation keeps >= 7)


@dataclass
class Arm:
    """One replay of one list: rankings of each day, before and after the LLM rerank."""
    local: list[tuple[list[str], set[str]]] = field(default_factory=list)
    final: list[tuple[list[str], set[str]]] = field(default_factory=list)
    distilled: set[str] = field(default_factory=set)


def write_oracle(path: Path, task: Task, error: float) -> Path:
    """The judge's knowledge: every candidate of the replayed days with its (noisy) truth."""
    rng = random.Random(f"{task.name}:{error}")
    with open(path, "w", encoding="utf-8") as f:
        for d in task.days:
            for p in d.candidates:
                truth = p.id in d.positives
                relevant = truth != (rng.random() < error)
                f.write(json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract,
                                    "relevance": RELEVANT if relevant else IRRELEVANT}) + "\n")
    return path


def replay_arm(task: Task, days: Sequence[tuple], background: Background, replay: Replay,
               client: Client, judged: Store, user: str, weight: float, ranker_name: str,
               top_n: int, on: bool, corpus: Corpus) -> Arm:
    arm = Arm()
    profile = prompts.profile_for("", [], [], [p.title for p in task.library[-8:]], "en")
    lib: list[Paper] = list(task.library)
    ranker = None
    for d, cands in days:
        if ranker is None or on:
            fit = UserProfile(task.name, lib, replay.vectors(lib), np.ones(len(lib), dtype=int),
                              rated=np.zeros(len(lib), dtype=bool))  # as the daily job: not 👍
            ranker = get_ranker(ranker_name).fit(fit, background)
            ranker.quality_weight = weight
        scored = ranker.rank(cands, explain=0)
        arm.local.append(([s.paper_id for s in scored], d.positives))
        out = rerank(client, judged, user, d.day, profile, scored,
                     {p.id: p for p in d.candidates}, top_n=top_n)
        arm.final.append(([s.paper_id for s in out.scored], d.positives))
        if on:
            distill(judged, user)
            arm.distilled = {e.paper_id for e in judged.library(user) if e.source == SOURCE}
            lib = list(task.library) + [corpus.by_id[i] for i in sorted(arm.distilled)]
    return arm


def later(days: list[tuple[list[str], set[str]]]) -> list[tuple[list[str], set[str]]]:
    return days[1:]  # day 1 is ranked before any judgement: the same in both arms


def measure(a: argparse.Namespace) -> list[str]:
    settings = config.load(env={**os.environ, "PAPERSIFT_EMBEDDING_BACKEND": a.backend,
                                "PAPERSIFT_STORE_URL": f"sqlite:///{a.cache}"})
    store = Store(settings.store_url)
    if not store.signal_events():  # the ranker's quality weight needs the public signals
        store.add_signals(read_signals(SHARED / "quality" / "hf-daily-upvotes.jsonl"))
    t0 = time.perf_counter()
    corpus = Corpus.load(a.dump)
    tasks = tasks_from_splits(corpus, a.splits, a.lists)
    for task in tasks:
        task.days = task.days[: a.days]
    weight = settings["digest.quality_weight"]
    replay = Replay(tasks, store, make_embedder(settings), weight, corpus)
    print(f"corpus and {len(tasks)} lists loaded in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    arms: dict[tuple[float, bool], dict[str, Arm]] = {}
    server = LLMServer().start()
    with tempfile.TemporaryDirectory() as tmp, \
            Client(server.url, "oracle-judge", retries=1, backoff=0) as client:
        judged = Store(f"sqlite:///{tmp}/judgements.sqlite")
        for task in tasks:
            background = replay.background(task)
            days: list[tuple[object, Candidates]] = [
                (d, replay.candidates(d.candidates)) for d in task.days]
            for error in a.errors:
                server.load_oracle(write_oracle(Path(tmp) / "oracle.jsonl", task, error))
                for on in (False, True):
                    arms.setdefault((error, on), {})[task.name] = replay_arm(
                        task, days, background, replay, client, judged,
                        f"{task.name}@{error}:{on}", weight, a.ranker, a.top_n, on, corpus)
            print(f"{task.name}: " + " / ".join(
                f"{e:.0%} {m['ndcg@10']:.3f}→{n['ndcg@10']:.3f}" for e in a.errors
                for m, n in [(list_metrics(later(arms[e, False][task.name].local)),
                              list_metrics(later(arms[e, True][task.name].local)))]),
                file=sys.stderr)
        judged.close()
    server.stop()
    store.close()
    return report(a, tasks, arms, time.perf_counter() - t0)


def report(a: argparse.Namespace, tasks: list[Task],
           arms: dict[tuple[float, bool], dict[str, Arm]], seconds: float) -> list[str]:
    # lists with a list paper on the scored days: the others have nothing to score
    scored = [t.name for t in tasks if any(d.positives for d in t.days[1:])]

    def score(error: float, on: bool, which: str) -> float:
        return macro({n: list_metrics(later(getattr(arms[error, on][n], which)))
                      for n in scored})["ndcg@10"]

    def day_ndcg(error: float, on: bool) -> dict[str, list[float]]:
        return {n: [ndcg10(r, pos) for r, pos in later(arms[error, on][n].local) if pos]
                for n in scored}

    rows, per_list, reading = [], [], []
    for e in a.errors:
        off, on = score(e, False, "local"), score(e, True, "local")
        lo, hi = _gain_interval(_daily_gains(day_ndcg(e, False), day_ndcg(e, True)))
        truth = {p for t in tasks for d in t.days for p in d.positives}
        hits = sum(len(arm.distilled & truth) for arm in arms[e, True].values())
        wrong = sum(len(arm.distilled - truth) for arm in arms[e, True].values())
        reading.append(f"with {e:.0%} of its answers flipped, {on - off:+.3f} ("
                       f"{wrong / max(1, hits):.1f} other papers distilled per list paper)")
        rows.append(f"| {e:.0%} | {off:.3f} | {on:.3f} | **{on - off:+.3f}** ({lo:+.3f} to "
                    f"{hi:+.3f}) | {score(e, False, 'final'):.3f} | "
                    f"{score(e, True, 'final'):.3f} | {hits} / {wrong} |")
    for t in tasks:
        cells = [list_metrics(later(arms[a.errors[0], False][t.name].local))["ndcg@10"]]
        cells += [list_metrics(later(arms[e, True][t.name].local))["ndcg@10"] for e in a.errors]
        positives = sum(len(pos) for _, pos in later(arms[a.errors[0], False][t.name].local))
        per_list.append(f"| {t.name} | {positives} | " + " | ".join(f"{c:.3f}" for c in cells)
                        + " |")
    n_days = sum(len(t.days) - 1 for t in tasks)
    return [
        f"### Distillation against the list's truth (`benchmarks/distill.py`, run "
        f"{time.strftime('%Y-%m-%d')})",
        "",
        f"Command: `python benchmarks/distill.py --out benchmarks/RESULTS.md` ({seconds:.0f} s "
        "on 2 shared cores). The dev splits' list replay (`../shared/EVAL.md`) over the first "
        f"{a.days} test days of each of the {len(tasks)} lists, ranker `{a.ranker}` with its "
        f"defaults, embeddings `{a.backend}`. Each day the local ranker's top {a.top_n} go to "
        "the LLM layer (`llm/rerank.py`, lift check included) and a judge that knows the "
        "list: the stub model's oracle mode (`tests/llm_server.py`) answers relevance "
        f"{RELEVANT} for the list's papers, {IRRELEVANT} for others, from a file this script "
        "writes, with each answer flipped at the rate in the first column (the same paper "
        "gets the same answer every time). Distillation on: `llm.distill` makes the judged "
        "≥ 7 papers library positives and the local ranker is refitted before the next day; "
        "off: fitted once on the library. ndcg@10 (EVAL.md) over days 2–"
        f"{a.days} of each list ({n_days} days; those with a list paper are scored; day 1 is "
        f"the same in both arms), macro over the {len(scored)} lists with a list paper on them; "
        "the interval is from 2,000 paired resamplings of each list's days. Distilled: the "
        "papers in the `llm` library source after the last day, list papers / others.",
        "",
        sections.environment(),
        "",
        "| judge's answers flipped | local ndcg@10, distill off | distill on | change (95 % "
        "interval) | digest after the rerank, off | on | distilled: list papers / others |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Local ndcg@10, distill on minus off: " + "; ".join(reading) + f". Most of a day's "
        f"top {a.top_n} are not list papers, so each flipped answer there distils a wrong "
        "positive, more of them than right ones from an error rate of 10 %; the right ones "
        "join a library of hundreds of papers like them and move little. `llm.distill` is "
        "off by default.",
        "",
        "| list | list papers on the scored days | local ndcg@10, off | " + " | ".join(
            f"on, {e:.0%} flipped" for e in a.errors) + " |",
        "|---|---|---|" + "---|" * len(a.errors),
        *per_list,
        "",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    inputs.replay_arguments(ap, SHARED, ROOT / "out" / "bench-distill.sqlite")
    ap.add_argument("--days", type=int, default=30, help="Test days replayed per list.")
    ap.add_argument("--top-n", type=int, default=30, help="Papers the judge sees a day.")
    ap.add_argument("--errors", type=lambda s: [float(x) for x in s.split(",")],
                    default=[0.0, 0.1, 0.3], help="Shares of the judge's answers flipped.")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    inputs.require(ap, a, "dump", "splits", "lists")
    if a.days < 2:
        ap.error("--days must be at least 2: day 1 is ranked before any judgement")
    a.cache.parent.mkdir(parents=True, exist_ok=True)
    lines = measure(a)
    if a.out is None:
        print("\n".join(lines))
        return
    sections.write(a.out, {SECTION: lines})
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

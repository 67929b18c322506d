"""Offline evaluation by list replay (../shared/EVAL.md).

A curated list stands in for a user: its papers from before the cutoff are the library;
every listing day between cutoff and end is a digest whose positives are the list's papers
announced that day. A ranker sees the library, papers announced before the cutoff (its
background) and the day's candidates — nothing from later days and no list membership after
the cutoff.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from papersift.errors import PapersiftError
from papersift.profile.config_source import read_id_file
from papersift.quality.scoring import assess
from papersift.rank.base import (
    Background,
    Candidates,
    UserProfile,
    background_sample,
    background_start,
    get_ranker,
)
from papersift.rank.embed import Embedder, VectorMemo
from papersift.records import Paper
from papersift.sources.dump import ImportReport, read_dump
from papersift.store import Store

K_LIST = (10, 25, 50)
METRICS = ("recall@10", "recall@25", "recall@50", "ndcg@10", "mrr")



@dataclass
class Day:
    day: str
    candidates: list[Paper]
    positives: set[str]


@dataclass
class Task:
    """One list (one simulated user) replayed over its test period."""

    name: str
    cutoff: str
    end: str
    library: list[Paper]
    background: list[Paper]
    days: list[Day] = field(default_factory=list)


class Corpus:
    """Every record of a bulk-metadata file, indexed by id and by listing day."""

    def __init__(self, papers: Iterable[Paper]) -> None:
        self.by_id: dict[str, Paper] = {}
        self.by_day: dict[str, list[Paper]] = defaultdict(list)
        for p in papers:
            self.by_id[p.id] = p
        for p in self.by_id.values():
            if p.announced:
                self.by_day[p.announced].append(p)
        self.days = sorted(self.by_day)

    @classmethod
    def load(cls, path: Path) -> Corpus:
        if not Path(path).exists():
            raise PapersiftError(f"corpus file {path} does not exist: check --corpus")
        report = ImportReport()
        corpus = cls(read_dump(Path(path), report))
        if not corpus.by_id:
            raise PapersiftError(f"corpus {path} holds no valid records: check the file")
        return corpus

    def announced_between(self, start: str, end: str) -> list[Paper]:
        """Papers listed on days in [start, end)."""
        return [p for d in self.days if start <= d < end for p in self.by_day[d]]


def paper_date(p: Paper) -> str:
    """When a paper became known: its listing day, else its v1 submission day."""
    return p.announced or p.created or p.updated or ""


def make_task(corpus: Corpus, name: str, ids: Sequence[str], cutoff: str, end: str) -> Task:
    idset = set(ids)
    library = [corpus.by_id[i] for i in dict.fromkeys(ids)
               if i in corpus.by_id and paper_date(corpus.by_id[i]) < cutoff]
    start = background_start(cutoff)
    task = Task(name, cutoff, end, library, corpus.announced_between(start, cutoff))
    for d in corpus.days:
        if cutoff <= d <= end:
            cands = sorted(corpus.by_day[d], key=lambda p: p.id)
            task.days.append(Day(d, cands, {p.id for p in cands if p.id in idset}))
    return task


def check_measurable(task: Task, ids: Sequence[str], corpus: Corpus, source: str) -> None:
    """A user's own list (`--library`) must leave something to measure: papers before the
    start (the library) and papers listed in the window (the positives). Otherwise say so
    now, with where the list's papers are, instead of a table of zeros after minutes."""
    if not ids:
        raise PapersiftError(f"{source} holds no arXiv id: check the file (one id or URL per "
                             "line)")
    known = sorted(d for i in dict.fromkeys(ids) if i in corpus.by_id
                   and (d := paper_date(corpus.by_id[i])))
    if not known:
        raise PapersiftError(f"none of the {len(set(ids))} ids of {source} is in the corpus: "
                             "check the file, or use a corpus that covers your papers")
    span = f"its papers in the corpus date from {known[0]} to {known[-1]}"
    if not task.library:
        raise PapersiftError(f"no paper of {source} in the corpus is dated before --start "
                             f"{task.cutoff}, so the library would be empty ({span}): "
                             "pick a later --start")
    if not any(d.positives for d in task.days):
        raise PapersiftError(f"no paper of {source} is listed between {task.cutoff} and "
                             f"{task.end}, so there is nothing to measure ({span}): pick "
                             "--start/--end around its newer papers")


def tasks_from_splits(corpus: Corpus, splits_file: Path, lists_dir: Path) -> list[Task]:
    try:
        splits = json.loads(Path(splits_file).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise PapersiftError(f"cannot read splits file {splits_file} ({e}): check --splits") \
            from None
    tasks = []
    for s in splits:
        try:
            name, cutoff, end = s["list"], s["cutoff"], s["end"]
        except (KeyError, TypeError):
            raise PapersiftError(f"split {s!r} in {splits_file} needs list, cutoff and end") \
                from None
        ids = read_id_file(Path(lists_dir) / f"{name}.txt")
        tasks.append(make_task(corpus, name, ids, cutoff, end))
    return tasks


# --- metrics --------------------------------------------------------------------------------


def ndcg10(ranked: Sequence[str], pos: set[str]) -> float:
    """ndcg@10 of one day's ranking (binary relevance); `pos` must not be empty."""
    dcg = sum(1 / math.log2(i + 2) for i, pid in enumerate(ranked[:10]) if pid in pos)
    return dcg / sum(1 / math.log2(i + 2) for i in range(min(10, len(pos))))


def list_metrics(days: Sequence[tuple[Sequence[str], set[str]]]) -> dict[str, float]:
    """recall@k over all positives of a list; ndcg@10 and mrr over days with a positive."""
    hits = dict.fromkeys(K_LIST, 0)
    npos = 0
    ndcgs, mrrs = [], []
    for ranked, pos in days:
        if not pos:
            continue
        npos += len(pos)
        rank = {pid: i for i, pid in enumerate(ranked)}
        ranks = sorted(rank.get(p, math.inf) for p in pos)
        for k in K_LIST:
            hits[k] += sum(r < k for r in ranks)
        ndcgs.append(ndcg10(ranked, pos))
        mrrs.append(1 / (ranks[0] + 1) if ranks[0] < math.inf else 0.0)
    out = {f"recall@{k}": hits[k] / npos if npos else 0.0 for k in K_LIST}
    out["ndcg@10"] = float(np.mean(ndcgs)) if ndcgs else 0.0
    out["mrr"] = float(np.mean(mrrs)) if mrrs else 0.0
    out["positives"] = npos
    return out


def macro(per_list: dict[str, dict[str, float]]) -> dict[str, float]:
    return {m: float(np.mean([v[m] for v in per_list.values()])) for m in METRICS}


# --- running --------------------------------------------------------------------------------


@dataclass
class RankerResult:
    ranker: str
    per_list: dict[str, dict[str, float]]
    seconds: float
    rankings: list[dict] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, float]:
        return macro(self.per_list)


class Replay:
    """Embeddings (from, and into, the store) and quality of the papers a replay touches,
    shared by the backtest and benchmarks that replay the same tasks differently."""

    def __init__(self, tasks: Sequence[Task], store: Store, embedder: Embedder,
                 quality_weight: float = 0.0, corpus: Corpus | None = None,
                 log: Callable[[str], None] = lambda _: None):
        self.store, self.embedder = store, embedder
        self.memo = VectorMemo()
        self.quality: dict[str, tuple[float, list[str]]] = {}
        if quality_weight:
            cands = list({p.id: p for t in tasks for d in t.days for p in d.candidates}.values())
            history = [(p.id, paper_date(p), p.authors) for p in
                       (corpus.by_id.values() if corpus else cands)]
            log(f"quality of {len(cands)} candidates…")
            self.quality = assess(store, cands, history=history,
                                  events=store.signal_events()).by_id()

    def vectors(self, papers: list[Paper]) -> np.ndarray:
        return self.memo.fetch(self.store, self.embedder, papers)

    def candidates(self, papers: list[Paper]) -> Candidates:
        """A day's candidates, with their quality on that day when it is weighed."""
        c = Candidates(papers, self.vectors(papers))
        if self.quality:
            c.quality = np.array([self.quality[p.id][0] for p in papers])
            c.quality_cues = [self.quality[p.id][1] for p in papers]
        return c

    def background(self, task: Task) -> Background:
        sample = background_sample(task.background)
        return Background(task.background, Candidates(sample, self.vectors(sample)))


def run(tasks: Sequence[Task], rankers: Sequence[str], store: Store, embedder: Embedder,
        log: Callable[[str], None] = lambda _: None, quality_weight: float = 0.0,
        corpus: Corpus | None = None) -> list[RankerResult]:
    """Replay every task with every ranker; embeddings come from (and go to) the store.
    With a quality weight, candidates carry their quality on their day, the authors' track
    record drawn from `corpus` and the store's signals."""
    replay = Replay(tasks, store, embedder, quality_weight, corpus, log)
    results = {name: RankerResult(name, {}, 0.0) for name in rankers}
    for task in tasks:
        log(f"{task.name}: library {len(task.library)}, background {len(task.background)}, "
            f"{len(task.days)} days, {sum(len(d.positives) for d in task.days)} positives")
        profile = UserProfile(task.name, task.library, replay.vectors(task.library),
                              np.ones(len(task.library), dtype=int))
        background = replay.background(task)
        days = [(d, replay.candidates(d.candidates)) for d in task.days]
        for name in rankers:
            t0 = time.perf_counter()
            ranker = get_ranker(name).fit(profile, background)
            ranker.quality_weight = quality_weight
            ranked_days = []
            for d, cands in days:
                ranked = [s.paper_id for s in ranker.rank(cands, explain=0)]
                ranked_days.append((ranked, d.positives))
                results[name].rankings.append({"list": task.name, "day": d.day,
                                               "ranked": ranked})
            results[name].seconds += time.perf_counter() - t0
            results[name].per_list[task.name] = list_metrics(ranked_days)
    return list(results.values())


def write_rankings(result: RankerResult, path: Path) -> None:
    with open(path, "w") as f:
        for line in result.rankings:
            f.write(json.dumps(line) + "\n")

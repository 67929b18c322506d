"""The daily run: the one place that strings the stages together.

ingest (store or arXiv feed) → profile sync → embed (cached) → rank → store digest → render.
Each stage is recorded in `runs`, and the digest of a (user, day) is stored once, so a
rerun prints the same digest and stores nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from papersift.calendar import latest_listing_day, no_listing_reason
from papersift.config import Settings
from papersift.deliver.channels import channels_for
from papersift.deliver.digest import Digest, Entry
from papersift.deliver.exactly_once import Outcome, deliver
from papersift.deliver.render import write_files
from papersift.errors import PapersiftError, SourceError
from papersift.profile.config_source import ProfileSpec, require_nonempty
from papersift.profile.mute import drop_muted
from papersift.profile.user import known_user, sync_sources, user_spec
from papersift.quality.scoring import assess
from papersift.rank.base import (
    Background,
    Candidates,
    Ranker,
    UserProfile,
    background_sample,
    background_start,
    get_ranker,
)
from papersift.rank.embed import Embedder, VectorMemo, make_embedder
from papersift.rank.reasons import render
from papersift.records import Paper
from papersift.store import Store, utcnow
from papersift.store.db import DigestEntry
from papersift.store.profiles import FEEDBACK_SOURCE
from papersift.workers import fork_map, worker_count

Log = Callable[[str], None]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class DailyResult:
    digest: Digest
    files: list[Path] = field(default_factory=list)
    reused: bool = False  # the digest was already stored: nothing was ranked again
    warnings: list[str] = field(default_factory=list)
    deliveries: list[Outcome] = field(default_factory=list)
    muted: int = 0  # candidates dropped for a muted topic


def _quiet(_: str) -> None:
    pass


class SharedDay:
    """What every user's ranking of one day shares, loaded and embedded once: the 90-day
    background, its embedded sample, and the vectors of every paper embedded so far (the
    day's candidates and the users' libraries, when `daily_all` prefetches them)."""

    def __init__(self, store: Store, day: str, uses_background: bool) -> None:
        self.recent = _recent(store, day) if uses_background else []
        self.sample = background_sample(self.recent)
        self.vectors = VectorMemo()
        self.candidates: list[Paper] | None = None  # the day's, once `daily_all` ingested them
        self._background: Background | None = None
        # a user was ranked, so whatever rankers build lazily for all users (per-period
        # state, the day's analysed texts, quality) exists: forked workers inherit it
        self.warm = False
        self._quality: dict[str, tuple[float, list[str]]] | None = None

    def embed(self, store: Store, embedder: Embedder, papers: list[Paper],
              progress: Progress | None = None) -> np.ndarray:
        """Vectors of `papers` in order, each paper fetched once a run."""
        return self.vectors.fetch(store, embedder, papers, progress)

    def quality(self, store: Store, candidates: list[Paper]) -> dict[str, tuple[float, list[str]]]:
        """Quality score and cues of each candidate, assessed once for all users (each paper's
        depends on the store's history alone, not on which other papers are assessed)."""
        if self._quality is None:
            self._quality = assess(store, candidates).by_id()
        return self._quality

    @property
    def has_background(self) -> bool:
        return self._background is not None

    def background(self, store: Store, embedder: Embedder) -> Background:
        """One object for all users: the ranker's per-period state is found by identity."""
        if self._background is None:
            self._background = Background(self.recent, Candidates(
                self.sample, self.embed(store, embedder, self.sample)))
        return self._background


def daily(settings: Settings, day: str | None = None, *, user: str | None = None,
          log: Log = _quiet, progress: Progress | None = None,
          embedder: Embedder | None = None, send: bool = True,
          store: Store | None = None, shared: SharedDay | None = None) -> DailyResult:
    """Rank `day` for the user, write the files and (with `send`) deliver to the channels.
    `daily_all` passes its open `store` and the `shared` day of all users."""
    day = day or latest_listing_day()
    own = store is None
    store = store or Store(settings.store_url)
    try:
        user = known_user(settings, store, user)
        warnings = sync_sources(settings, store, user, log, search=False)
        spec = user_spec(settings, store, user)
        if spec.empty and not store.library(user):
            require_nonempty(spec, settings)
        if send:
            channels_for(settings, spec.user)  # a channel config error stops us before ranking
    except BaseException:
        if own:
            store.close()
        raise
    run_id = store.start_run("daily", spec.user, day)
    stage = "ingest"
    try:
        candidates = shared.candidates if shared and shared.candidates is not None \
            else _ingest(settings, store, day, log)
        if not candidates:
            note = no_listing_reason(day) or (
                f"no listing for {day} in the store: import a dump that covers it "
                "(papersift import-dump) or fetch it (papersift fetch); if both are "
                "up to date, arXiv made no announcement that day (holiday)")
            store.update_run(run_id, status="empty", detail=note)
            return DailyResult(Digest(spec.user, day, note=note))
        stage = "profile"
        result = DailyResult(Digest(spec.user, day, candidates=len(candidates)),
                             warnings=warnings)
        library = _sync_profile(settings, store, spec, result.warnings)
        stored = store.digest(spec.user, day)
        if stored is None:
            stage = "rank"  # embeds what is not cached yet, then ranks
            store.update_run(run_id, stage=stage)
            embedder = embedder or make_embedder(settings)
            stored = _rank(settings, store, spec, day, library, candidates, embedder, log,
                           progress, result, shared)
        else:
            result.reused = True
        result.digest = _as_digest(settings, store, spec.user, day, stored, candidates)
        stage = "deliver"
        store.update_run(run_id, stage=stage)
        try:
            result.files = write_files(result.digest, settings.digest_dir)
        except OSError as e:
            raise PapersiftError(f"cannot write the digest to {settings.digest_dir}: "
                                 f"{e.strerror}; fix digest.out_dir") from None
        detail = f"{len(stored)} papers from {len(candidates)}"
        if send:
            result.deliveries = deliver_day(settings, store, spec.user, day, log=log)
            if result.deliveries:
                detail += "; delivery: " + ", ".join(
                    f"{o.channel} {o.status}" for o in result.deliveries)
        store.update_run(run_id, status="ok", stage="done", detail=detail)
        return result
    except BaseException as e:
        store.update_run(run_id, status="failed", stage=stage, detail=str(e) or repr(e))
        raise
    finally:
        if own:
            store.close()


def daily_all(settings: Settings, day: str | None = None, *, users: list[str] | None = None,
              log: Log = _quiet, embedder: Embedder | None = None, send: bool = True,
              hold: Collection[str] = ()) -> dict[str, DailyResult]:
    """`daily` for every user of the store (or `users`) from one pass over the day: the
    candidates, the background and every vector needed are loaded and embedded once, and all
    users share the ranker's per-period state. Each user gets the digest `daily` would give
    them alone; one user's failure is logged and does not stop the others. Once a first
    user has been ranked (building what all share), the rest are split over
    `digest.workers` forked processes. The digests of the users in `hold` are stored but not
    sent (the scheduler sends their missed days as one merged digest)."""
    day = day or latest_listing_day()
    store = Store(settings.store_url)
    try:
        names = sorted(users if users is not None
                       else store.users() | {settings["profile.user"]})
        embedder = embedder or make_embedder(settings)
        candidates = _ingest(settings, store, day, log)
        shared = SharedDay(store, day, get_ranker(settings["digest.ranker"]).uses_background)
        shared.candidates = candidates
        libraries = store.get_papers(sorted({e.paper_id for u in names
                                             for e in store.library(u)}))
        log(f"{len(names)} users, {len(candidates)} candidates: embedding what is missing…")
        shared.embed(store, embedder, [*libraries.values(), *candidates, *shared.sample])

        def run(part: list[str]) -> list[tuple[str, DailyResult | None, list[str]]]:
            done = []
            for name in part:  # log lines travel back with the results from a worker
                lines: list[str] = []
                try:
                    result: DailyResult | None = daily(
                        settings, day, user=name, log=lines.append, embedder=embedder,
                        send=send and name not in hold, store=store, shared=shared)
                except PapersiftError as e:
                    result = None
                    lines.append(f"{name}: {e}")
                done.append((name, result, lines))
            return done

        out: dict[str, DailyResult] = {}
        first = 0  # users ranked here until one has warmed the shared state
        while first < len(names) and not shared.warm:
            _collect([run([names[first]])], out, log)
            first += 1
        rest, workers = names[first:], worker_count(settings["digest.workers"])
        chunk = max(1, min(USERS_PER_TASK, -(-len(rest) // workers)))
        _collect(fork_map(run, rest, workers, chunk,
                          after_fork=lambda: store.engine.dispose(close=False)), out, log)
        return out
    finally:
        store.close()


USERS_PER_TASK = 8  # users a worker ranks before reporting back (their log lines, results)


def _collect(parts: Iterable[list[tuple[str, DailyResult | None, list[str]]]],
             out: dict[str, DailyResult], log: Log) -> None:
    for part in parts:
        for name, result, lines in part:
            for line in lines:
                log(line)
            if result is not None:
                out[name] = result


def _as_digest(settings: Settings, store: Store, user: str, day: str,
               stored: list[DigestEntry], candidates: list[Paper]) -> Digest:
    by_id = {p.id: p for p in candidates}
    by_id.update(store.get_papers([e.paper_id for e in stored if e.paper_id not in by_id]))
    judged = store.latest_judgements(user, [e.paper_id for e in stored])  # LLM TL;DRs
    digest = Digest(user, day, [Entry(e.rank, by_id[e.paper_id], e.score, render(e.reason),
                                      judged[e.paper_id].tldr if e.paper_id in judged else None)
                                for e in stored], candidates=len(candidates))
    if not stored:
        digest.note = (f"nothing in the {len(candidates)} papers of {day} is worth reading "
                       f"at your threshold ({threshold(settings)})")
    return digest


def threshold(settings: Settings) -> str:
    """The digest threshold in words (the empty-digest note and `papersift doctor`)."""
    level = settings["digest.min_level"]
    return f"digest.min_level = {level}: top {100 * (1 - level):.0f}% of recent papers"


def load_digest(settings: Settings, store: Store, user: str, day: str) -> Digest | None:
    """The stored digest of (user, day), or None when that day was never ranked."""
    stored = store.digest(user, day)
    if stored is None:
        return None
    return _as_digest(settings, store, user, day, stored,
                      in_categories(settings, store.listing(day)))


def merged_digest(settings: Settings, store: Store, user: str, days: list[str],
                  size: int | None = None) -> Digest:
    """The best papers of several stored digests (catch-up, weekly): scores are comparable
    across days (each is standardised against its own recent background)."""
    parts = [d for d in (load_digest(settings, store, user, day) for day in days) if d]
    entries = sorted((e for d in parts for e in d.entries), key=lambda e: -e.score)
    entries = entries[: size or settings["digest.size"]]
    for rank, e in enumerate(entries, 1):
        e.rank = rank
    merged = Digest(user, days[-1], entries, candidates=sum(d.candidates for d in parts),
                    since=days[0])
    if not parts:
        merged.note = f"no stored digest between {days[0]} and {days[-1]}"
    elif not entries:
        merged.note = f"nothing passed your threshold between {days[0]} and {days[-1]}"
    return merged


def week_days(day: str) -> list[str]:
    """Monday to `day`: the listing days a weekly digest delivered on `day` covers."""
    d = date.fromisoformat(day)
    return [(d - timedelta(days=k)).isoformat() for k in range(d.weekday(), -1, -1)]


def deliver_day(settings: Settings, store: Store, user: str, day: str, *, log: Log = _quiet,
                sleep: Callable[[float], None] = time.sleep) -> list[Outcome]:
    """Deliver the stored digest of (user, day) to the user's channels, honouring
    delivery.cadence (weekly: only on weekly_day, the week's best)."""
    channels = channels_for(settings, user)
    if not channels:
        return []
    if settings["delivery.cadence"] == "weekly":
        if WEEKDAYS[date.fromisoformat(day).weekday()] != settings["delivery.weekly_day"]:
            return []
        days = week_days(day)
        digest = merged_digest(settings, store, user, days)
        return deliver(settings, store, digest, covers=days, channels=channels, log=log,
                       sleep=sleep)
    digest = load_digest(settings, store, user, day)
    if digest is None:
        raise PapersiftError(f"no digest of {user!r} for {day} in the store: run "
                             f"`papersift daily --date {day}` first")
    return deliver(settings, store, digest, channels=channels, log=log, sleep=sleep)


def retry_pending(settings: Settings, store: Store, user: str, *, due_only: bool = False,
                  skip_days: Collection[str] = (), log: Log = _quiet,
                  sleep: Callable[[float], None] = time.sleep) -> list[Outcome]:
    """Try again every delivery of `user` that failed or was killed in flight (`due_only`:
    only those whose backoff has elapsed; `skip_days`: days this run just tried)."""
    by_name = {c.name: c for c in channels_for(settings, user)}
    out: list[Outcome] = []
    now = utcnow()
    for rec in store.deliveries(user=user):
        if rec.status not in ("failed", "sending", "pending") or rec.channel not in by_name:
            continue
        if (due_only and rec.next_try and rec.next_try > now) or rec.day in skip_days:
            continue
        covers = rec.covers or [rec.day]
        digest = (merged_digest(settings, store, user, covers) if len(covers) > 1
                  else load_digest(settings, store, user, rec.day))
        if digest is None:
            continue
        out += deliver(settings, store, digest, covers=covers, channels=[by_name[rec.channel]],
                       log=log, sleep=sleep)
    return out


def _ingest(settings: Settings, store: Store, day: str, log: Log) -> list[Paper]:
    """The day's new + cross-listed papers in the configured categories."""
    listed = store.listing(day)
    if not listed and not settings["arxiv.offline"] and day == latest_listing_day():
        from papersift.sources.fetch import fetch

        log("fetching today's listing from arXiv…")
        log(fetch(settings, store).summary())
        listed = store.listing(day)
    return in_categories(settings, listed)


def in_categories(settings: Settings, papers: list[Paper]) -> list[Paper]:
    """The papers in one of `arxiv.categories` (all of them when none is configured)."""
    wanted = set(settings["arxiv.categories"])
    return [p for p in papers if not wanted or wanted.intersection(p.categories)]


def _sync_profile(settings: Settings, store: Store, spec: ProfileSpec,
                  warnings: list[str]) -> list[Paper]:
    """Store the config profile; look up library papers the store lacks."""
    store.save_profile(spec.user, spec.description, spec.keywords, spec.authors)
    if spec.user == settings["profile.user"]:  # the config profile is its owner's alone
        store.sync_library(spec.user, "config", spec.ids)
    ids = [e.paper_id for e in store.library(spec.user)]
    found = store.get_papers(ids)
    missing = [i for i in ids if i not in found]
    if missing and not settings["arxiv.offline"]:
        from papersift.sources.fetch import fetch

        try:
            fetch(settings, store, feed=False, ids=missing)
            found.update(store.get_papers(missing))
        except SourceError as e:
            warnings.append(f"arXiv lookup failed: {e}")
    still = [i for i in ids if i not in found]
    if still:
        shown = ", ".join(still[:5]) + (" …" if len(still) > 5 else "")
        warnings.append(f"{len(still)} library paper(s) are not in the store and were left "
                        f"out: {shown}; run `papersift fetch --ids …` when arXiv is reachable")
    return [found[i] for i in ids if i in found]


@dataclass
class DayScores:
    """A day's candidates as one user's fitted ranker sees them."""

    ranker: Ranker
    candidates: Candidates
    muted: int  # candidates left out for a muted topic


def score_day(settings: Settings, store: Store, spec: ProfileSpec, day: str,
              library: list[Paper], candidates: list[Paper], embedder: Embedder,
              shared: SharedDay | None = None, step: Progress | None = None,
              keep: Collection[str] = ()) -> DayScores:
    """The user's ranker fitted and the day's candidates it may recommend: not in the
    library, not rated, not shown before (except `keep`), not muted. The daily job ranks
    them; the paper page explains a paper that was not picked with the same."""
    held = {e.paper_id: e for e in store.library(spec.user)}
    rated = {f.paper_id for f in store.feedback(spec.user)}  # dismissed ones too
    exclude = (set(held) | rated | store.shown_papers(spec.user, [p.id for p in candidates])
               ) - set(keep)
    fresh, muted = drop_muted([p for p in candidates if p.id not in exclude], spec.muted)
    ranker = get_ranker(settings["digest.ranker"])
    shared = shared or SharedDay(store, day, ranker.uses_background)
    # the background sample is embedded with them the first time (so progress counts it);
    # later users of a `daily_all` run skip re-reading its 3,000 vectors
    sample = [] if shared.has_background else shared.sample
    vecs = shared.embed(store, embedder, library + fresh + sample, step)
    lib_vecs, cand_vecs = np.split(vecs[:len(library) + len(fresh)], [len(library)])
    desc_vec = embedder.encode([spec.description])[0] if spec.description else None
    profile = UserProfile(spec.user, library, lib_vecs,
                          np.array([held[p.id].label for p in library]), spec.keywords,
                          spec.authors, spec.description, desc_vec,
                          [held[p.id].added_at for p in library],
                          np.array([held[p.id].source == FEEDBACK_SOURCE for p in library],
                                   dtype=bool))
    background = shared.background(store, embedder)
    ranker.fit(profile, background)
    ranker.calibrate(background.sample)
    todays = Candidates(fresh, cand_vecs)
    ranker.quality_weight = settings["digest.quality_weight"]
    if ranker.quality_weight and fresh:
        quality = shared.quality(store, candidates)
        todays.quality = np.array([quality[p.id][0] for p in fresh])
        todays.quality_cues = [quality[p.id][1] for p in fresh]
    return DayScores(ranker, todays, muted)


def _rank(settings: Settings, store: Store, spec: ProfileSpec, day: str, library: list[Paper],
          candidates: list[Paper], embedder: Embedder, log: Log,
          progress: Progress | None, result: DailyResult,
          shared: SharedDay | None) -> list[DigestEntry]:
    def step(done: int, total: int) -> None:
        if done == 0:
            log(f"embedding {total} papers…")
        if progress:
            progress(done, total)

    day_scores = score_day(settings, store, spec, day, library, candidates, embedder, shared,
                           step)
    result.muted = day_scores.muted
    if result.muted:
        log(f"{result.muted} papers on muted topics left out")
    ranker, fresh = day_scores.ranker, day_scores.candidates.papers
    llm = settings["llm.enabled"]
    scored = ranker.rank(day_scores.candidates,
                         explain=max(settings["digest.size"],
                                     settings["llm.top_n"] if llm else 0))
    if llm:  # the optional LLM reranks the head (papersift.llm)
        from papersift.llm.daily import apply

        scored = apply(settings, store, spec, day, library, scored, fresh, log, result.warnings)
    picks = [s for s in scored if s.level is None or s.level >= settings["digest.min_level"]]
    picks = picks[: settings["digest.size"]]
    entries = [DigestEntry(i + 1, s.paper_id, round(s.score, 4), s.reason)
               for i, s in enumerate(picks)]
    if shared:
        shared.warm = True
    return store.save_digest(spec.user, day, ranker.name, entries)


def _recent(store: Store, day: str) -> list[Paper]:
    """Papers listed in the 90 days before `day`: what the user saw and did not pick."""
    start = background_start(day)
    return list(store.get_papers(store.papers_announced_between(start, day)).values())

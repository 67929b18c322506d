"""What the pages and the JSON API show, computed once for both: a user's digest, a paper,
search results, the profile and the pictures. Every function takes the signed-in user."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel

from papersift.config import Settings
from papersift.errors import PapersiftError
from papersift.jobs import SharedDay, in_categories, score_day
from papersift.profile.config_source import ProfileSpec
from papersift.profile.mute import muted_by
from papersift.profile.show import Cluster, beliefs, clusters
from papersift.profile.sources import ZOTERO_EXCLUDE, ZOTERO_INCLUDE
from papersift.profile.user import user_spec
from papersift.rank.base import Candidates, Ranker, Scored, close_to, get_ranker
from papersift.rank.embed import Embedder, embed_papers, make_embedder
from papersift.rank.reasons import encode, render
from papersift.records import Paper, normalize_id
from papersift.store import Store
from papersift.store.web import Filters, Pick
from papersift.web import svg

MORE = 30  # papers shown below the threshold
SIMILAR = 8
MAP_DAYS = 30  # recent recommendations drawn on the interest map
TREND_DAYS = 60
# A listed paper is "close" to an interest cluster at this cosine to its centre: with
# all-MiniLM-L6-v2, papers of one subfield mostly score above it and unrelated ones below.
CLOSE = 0.5
REUSE_TTL = 60.0  # seconds a listing count or a digest's papers are reused (`_recent`)
REUSE_MAX = 4096  # entries kept at most
RANKINGS = 8  # day rankings kept for "why not" (each holds a fitted ranker: megabytes)
T = TypeVar("T")

# Why a paper is in none of the user's digests, one sentence per cause: English templates
# (the keys of i18n's catalogue), filled with a Miss's values.
WHY_NOT = {
    "no_listing": "It is in no daily listing in the store (papers harvested with "
                  "`fetch --from` or looked up by id have none), so no digest could pick it.",
    "no_digests": "You have no digest yet.",
    "before_first": "It was listed on {day}, before your first digest ({first}).",
    "after_last": "It was listed on {day}, after your latest digest ({last}).",
    "no_digest": "It was listed on {day}, a day you have no digest for.",
    "categories": "Its categories ({categories}) are outside those papersift reads "
                  "(arxiv.categories: {wanted}).",
    "muted": "Your muted topic “{term}” hits it.",
    "rated": "You {action} it: papers you rated are never recommended again.",
    "library": "It is in your library: papers you already have are never recommended.",
    "ranked": "Scored with your current profile against the {candidates} candidates of "
              "{day}: {score:.2f}, #{rank} of {candidates}.",
    "below_level": "It beats {level:.0%} of recent papers, below your threshold "
                   "(digest.min_level = {min_level}: better than {min_level:.0%} of them).",
    "below_size": "It came #{place} of the papers your threshold lets through, and the "
                  "digest keeps at most {size} (digest.size).",
    "would_pick": "With your current profile it would now make the digest (#{place}): your "
                  "library or ratings changed after the digest of {day} was made.",
    "reason": "The ranker's reason: {reason}",
    "unscored": "It could not be scored against its day: {problem}",
}
RATED = {"up": "liked", "down": "disliked", "save": "saved", "dismiss": "dismissed"}


def rating_text(_: Callable[..., str], action: str) -> str:
    """What a card says of its rating, on the page and in /api/rate's answer."""
    return f"{_('Your rating')}: {_(RATED[action])}"


@dataclass
class Card:
    paper: Paper
    rating: str | None = None
    rank: int | None = None
    score: float | None = None
    fraction: float = 0.0  # score relative to the day's best (the score bar)
    reason: str = ""
    tldr: str | None = None

    def as_dict(self) -> dict:
        p = self.paper
        return {"id": p.id, "title": p.title, "authors": p.authors, "categories": p.categories,
                "abstract": p.abstract, "announced": p.announced, "url": p.url,
                "pdf": f"https://arxiv.org/pdf/{p.id}", "html": f"https://arxiv.org/html/{p.id}",
                "rank": self.rank, "score": self.score, "score_fraction": round(self.fraction, 3),
                "reason": render(self.reason), "tldr": self.tldr, "rating": self.rating}


class TopicTrend(BaseModel):
    """One interest cluster, day by day (lists aligned with `Trend.days`)."""

    name: str  # its top terms, as the interest map's legend names it
    close: list[int]  # papers listed that day close to it
    mean: list[float | None]  # mean score of the day's digest papers nearest to it
    top: list[float | None]  # their top score (None: no digest paper of it that day)


class Trend(BaseModel):
    days: list[str]  # listing and digest days, oldest first
    topics: list[TopicTrend]


@dataclass
class DigestView:
    day: str
    cards: list[Card]
    listed: int
    days: list[str]
    more: list[Card] | None = None

    def fingerprint(self) -> tuple | None:
        """Everything the page shows of this view, so an identical view reuses its rendered
        page; None once "show more" adds the day's listing."""
        if self.more is not None:
            return None
        return (self.day, self.listed, tuple(self.days), tuple(
            (c.paper.id, c.paper.title, tuple(c.paper.authors), tuple(c.paper.categories),
             c.paper.abstract, c.rating, c.rank, c.score, c.fraction, c.reason, c.tldr)
            for c in self.cards))


@dataclass
class Miss:
    """One cause of a paper being in none of the user's digests (a WHY_NOT code)."""

    code: str
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, _: Callable[..., str]) -> str:
        values = {k: _(RATED[v]) if k == "action" else ", ".join(v) if isinstance(v, list)
                  else render(v, _) if k == "reason" else v for k, v in self.values.items()}
        return _(WHY_NOT[self.code], **values)

    def as_dict(self, _: Callable[..., str]) -> dict:
        return {"code": self.code, **self.values, "text": self.text(_),
                **({"reason": render(self.values["reason"])} if "reason" in self.values
                   else {})}


@dataclass
class DayRanking:
    """A day's candidates ranked for one user, as the daily job ranks them."""

    ranker: Ranker
    candidates: Candidates
    scored: list[Scored]


@dataclass
class PaperView:
    card: Card
    picks: list[Pick]
    similar: list[Card] = field(default_factory=list)
    library_near: list[Card] = field(default_factory=list)
    embedded: bool = True
    why_not: list[Miss] = field(default_factory=list)  # when `picks` is empty


class Views:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder | None = None):
        self.settings = settings
        self.store = store
        self._embedder = embedder
        self._lock = threading.Lock()
        self._matrix: tuple[int, list[str], np.ndarray] | None = None
        self._reused: dict[tuple, tuple[float, Any]] = {}
        self._shared: tuple[str, SharedDay] | None = None  # the last day a paper was scored on
        self._rankings: dict[tuple, DayRanking] = {}  # oldest first

    # --- embeddings -------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The model loads on the first semantic search or uncached paper, not at start-up."""
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    @property
    def model_key(self) -> str:
        return (self._embedder or make_embedder(self.settings)).key

    def matrix(self) -> tuple[list[str], np.ndarray]:
        """All cached vectors, reloaded when the cache grew (the daily job embeds more)."""
        n = self.store.count_embeddings(self.model_key)
        with self._lock:
            if self._matrix is None or self._matrix[0] != n:
                ids, m = self.store.embedding_matrix(self.model_key)
                self._matrix = (n, ids, m)
            return self._matrix[1], self._matrix[2]

    def nearest(self, vec: np.ndarray, k: int,
                filters: Filters | None = None) -> list[tuple[str, float]]:
        """The `k` cached papers passing `filters` closest to `vec`, with their cosine: from
        PostgreSQL's pgvector index once `papersift embed --index` built one, else in numpy."""
        found = self.store.nearest(self.model_key, vec, k, filters)
        if found is not None:
            return found
        ids, m = self.matrix()
        if not len(ids):
            return []
        sims = m @ vec
        order = np.argsort(-sims)
        if filters and filters != Filters():
            # Exact either way: if k of the best 20 k pass, no paper below them can be among
            # the k best that pass. Most filters (a category, dates) pass that many and cost
            # one small query; a rare one (an author) needs every paper that passes.
            head = order[:20 * k]
            keep = self.store.filter_ids([ids[i] for i in head], filters)
            if len(keep) < k:
                head, keep = order, self.store.matching_ids(filters)
            order = np.array([i for i in head if ids[i] in keep], dtype=int)
        return [(ids[i], float(sims[i])) for i in order[:k]]

    def vectors(self, papers: list[Paper], compute: bool) -> dict[str, np.ndarray]:
        if compute:
            return dict(zip([p.id for p in papers], embed_papers(self.store, self.embedder,
                                                                 papers), strict=True))
        return self.store.get_embeddings(papers, self.model_key)

    def _liked(self, user: str) -> list[str]:
        return [e.paper_id for e in self.store.library(user) if e.label > 0]

    def _cards(self, user: str, papers: list[Paper], reasons: list[str] | None = None
               ) -> list[Card]:
        ratings = self.store.latest_ratings(user, [p.id for p in papers])
        return [Card(p, ratings.get(p.id), reason=(reasons[i] if reasons else ""))
                for i, p in enumerate(papers)]

    def _recent(self, key: tuple, compute: Callable[[], T]) -> T:
        """`compute()`, reused for REUSE_TTL seconds. For what every page view asks and only
        the daily job changes: a day's listing count, a digest's papers (ratings, which the
        viewer changes, are always read fresh). None is never kept: a digest being written
        shows up on the next view."""
        now = time.monotonic()
        with self._lock:
            hit = self._reused.get(key)
        if hit is not None and now - hit[0] <= REUSE_TTL:
            return hit[1]
        value = compute()
        if value is not None:
            with self._lock:
                if len(self._reused) >= REUSE_MAX:  # drop the stale ones, else start afresh
                    fresh = {k: v for k, v in self._reused.items() if now - v[0] <= REUSE_TTL}
                    self._reused = fresh if len(fresh) < REUSE_MAX else {}
                self._reused[key] = (now, value)
        return value

    def _listed(self, day: str) -> int:
        """Papers listed on `day` in the configured categories (it changes only while the
        day is being fetched)."""
        return self._recent(("listed", day), lambda: self.store.listing_count(
            day, self.settings["arxiv.categories"]))

    def _digest_papers(self, user: str, day: str
                       ) -> tuple[list, dict[str, Paper], dict[str, str], list[str]] | None:
        """A stored digest with its papers, the LLM layer's TL;DRs and the user's digest days:
        written by the daily job, read by every view of the page."""
        stored = self.store.digest(user, day)
        if stored is None:
            return None
        papers = self.store.get_papers([e.paper_id for e in stored])
        judged = self.store.latest_judgements(user, list(papers))
        tldrs = {pid: j.tldr for pid, j in judged.items() if j.tldr}
        return stored, papers, tldrs, self.store.digest_days(user)

    # --- pages ------------------------------------------------------------------------------

    def digest(self, user: str, day: str, more: bool = False) -> DigestView | None:
        found = self._recent(("digest", user, day), lambda: self._digest_papers(user, day))
        if found is None:
            return None
        stored, papers, tldrs, days = found
        ratings = self.store.latest_ratings(user, list(papers))
        top = max((e.score for e in stored), default=0.0)
        cards = [Card(papers[e.paper_id], ratings.get(e.paper_id), e.rank, e.score,
                      max(0.0, min(1.0, e.score / top)) if top > 0 else 0.0, e.reason,
                      tldrs.get(e.paper_id))
                 for e in stored if e.paper_id in papers]
        view = DigestView(day, cards, self._listed(day), days)
        if more:
            view.more = self._below_threshold(user, day, set(papers))
        return view

    def _below_threshold(self, user: str, day: str, shown: set[str]) -> list[Card]:
        """The rest of the day's listing, closest to the library first (cosine similarity
        of cached embeddings to the nearest liked paper; the ranker's full score is only
        computed for the digest itself)."""
        rest = [p for p in self._candidates(day) if p.id not in shown]
        liked = list(self.store.get_papers(self._liked(user)).values())
        lib = self.vectors(liked, compute=False)
        vecs = self.vectors(rest, compute=False)
        if not lib or not vecs:
            return self._cards(user, rest[:MORE])
        lib_ids = list(lib)
        lm = np.stack([lib[i] for i in lib_ids])
        scored = []
        for p in rest:
            if p.id in vecs:
                sims = lm @ vecs[p.id]
                j = int(np.argmax(sims))
                scored.append((float(sims[j]), p, lib_ids[j]))
        scored.sort(key=lambda s: -s[0])
        titles = {p.id: p.title for p in liked}
        head = scored[:MORE]
        return self._cards(user, [p for _, p, _ in head],
                           [encode([close_to(titles[j], s)]) for s, _, j in head])

    def paper(self, user: str, paper_id: str) -> PaperView | None:
        found = self.store.get_papers([paper_id])
        if paper_id not in found:
            return None
        p = found[paper_id]
        picks = self.store.picks(user, paper_id)
        card = self._cards(user, [p])[0]
        if picks:
            card.rank, card.score, card.reason = picks[0].rank, picks[0].score, picks[0].reason
        view = PaperView(card, picks)
        if not picks:
            view.why_not = self.why_not(user, p, card.rating)
        try:  # a paper never ranked is embedded now (and cached)
            vec = self.vectors([p], compute=True)[p.id]
        except PapersiftError:  # the model cannot load: the page still shows the paper
            view.embedded = False
            return view
        hits = [(pid, sim) for pid, sim in self.nearest(vec, SIMILAR + 1) if pid != p.id]
        view.similar = self._hits(user, hits[:SIMILAR])
        liked = list(self.store.get_papers(self._liked(user)).values())
        lib = self.vectors(liked, compute=False)
        ranked = sorted(((float(v @ vec), pid) for pid, v in lib.items() if pid != p.id),
                        reverse=True)[:5]
        by_id = {q.id: q for q in liked}
        view.library_near = self._cards(user, [by_id[pid] for _, pid in ranked],
                                        [f"{s:.2f}" for s, _ in ranked])
        return view

    def why_not(self, user: str, paper: Paper, rating: str | None) -> list[Miss]:
        """Every cause that kept `paper` out of the user's digests, the most decisive first;
        when none holds, how the user's ranker scores it among its day's candidates."""
        day = paper.announced
        listed = day is not None and paper.id in {q.id for q in self._listing(day)}
        days = self.store.digest_days(user)
        misses = []
        if not listed:
            misses.append(Miss("no_listing"))
        elif not days:
            misses.append(Miss("no_digests"))
        elif day not in days:
            first, last = min(days), max(days)
            misses.append(Miss("before_first", {"day": day, "first": first}) if day < first
                          else Miss("after_last", {"day": day, "last": last}) if day > last
                          else Miss("no_digest", {"day": day}))
        wanted = self.settings["arxiv.categories"]
        if wanted and not set(wanted) & set(paper.categories):
            misses.append(Miss("categories", {"categories": paper.categories,
                                              "wanted": list(wanted)}))
        spec = user_spec(self.settings, self.store, user)
        if term := muted_by(paper, spec.muted):
            misses.append(Miss("muted", {"term": term}))
        held = tuple((e.paper_id, e.label, e.source, e.added_at)
                     for e in self.store.library(user))
        if rating:
            misses.append(Miss("rated", {"action": rating}))
        elif paper.id in {h[0] for h in held}:
            misses.append(Miss("library"))
        if misses or day is None:
            return misses
        try:
            return self._ranked(spec, paper, day, held)
        except PapersiftError as e:  # the model cannot load: the other causes still show
            return [Miss("unscored", {"problem": str(e)})]

    def _ranked(self, spec: ProfileSpec, paper: Paper, day: str, held: tuple) -> list[Miss]:
        """Where `paper` ranks among its day's candidates, and which limit it fell below.
        The day's ranking serves its other papers too, until the profile changes (the key)."""
        rated = frozenset(f.paper_id for f in self.store.feedback(spec.user))
        key = ("ranked", spec.user, day, held, rated, tuple(spec.keywords),
               tuple(spec.authors), tuple(spec.muted), spec.description)
        with self._lock:
            day_ranking = self._rankings.get(key)
        if day_ranking is None:
            day_ranking = self._rank_day(spec, day, held)
            with self._lock:
                while len(self._rankings) >= RANKINGS:
                    del self._rankings[next(iter(self._rankings))]
                self._rankings[key] = day_ranking
        scored = day_ranking.scored
        i = next((k for k, s in enumerate(scored) if s.paper_id == paper.id), None)
        if i is None:  # rated or muted since the checks above
            return []
        s, min_level, size = scored[i], self.settings["digest.min_level"], \
            self.settings["digest.size"]
        out = [Miss("ranked", {"day": day, "candidates": len(scored),
                               "score": round(s.score, 4), "rank": i + 1})]
        if s.level is not None and s.level < min_level:
            out.append(Miss("below_level", {"level": round(s.level, 4),
                                            "min_level": min_level}))
        else:  # the digest is the first `size` papers that pass the threshold
            place = sum(1 for t in scored[:i]
                        if t.level is None or t.level >= min_level) + 1
            out.append(Miss("below_size", {"size": size, "place": place}) if place > size
                       else Miss("would_pick", {"place": place, "day": day}))
        cands = day_ranking.candidates
        j = next(k for k, q in enumerate(cands.papers) if q.id == paper.id)
        reason = day_ranking.ranker.reasons(Candidates([paper], cands.vecs[j:j + 1]),
                                            np.array([s.score]))[0]
        return [*out, Miss("reason", {"reason": reason})]

    def _rank_day(self, spec: ProfileSpec, day: str, held: tuple) -> DayRanking:
        """The day's candidates ranked for the user as `papersift daily` ranks them (LLM
        rerank aside), with the day's own picks: they had not been shown yet then."""
        candidates = self._candidates(day)
        picked = {e.paper_id for e in self.store.digest(spec.user, day) or []}
        found = self.store.get_papers([h[0] for h in held])
        library = [found[h[0]] for h in held if h[0] in found]
        shared = self._shared_day(day, get_ranker(self.settings["digest.ranker"]).uses_background)
        scores = score_day(self.settings, self.store, spec, day, library, candidates,
                           self.embedder, shared, keep=picked)
        return DayRanking(scores.ranker, scores.candidates,
                          scores.ranker.rank(scores.candidates, explain=0))

    def warm(self, day: str) -> None:
        """Load what the first "why not" paper page of `day` waits for — its 90-day
        background and the candidates' quality, read from every stored paper's history:
        ~10 s on the 178k-paper store (benchmarks/web.py) — so no reader waits for it."""
        shared = self._shared_day(day, get_ranker(self.settings["digest.ranker"]).uses_background)
        if self.settings["digest.quality_weight"]:
            shared.quality(self.store, self._candidates(day))

    def _candidates(self, day: str) -> list[Paper]:
        return in_categories(self.settings, self._listing(day))

    def _shared_day(self, day: str, uses_background: bool) -> SharedDay:
        """The day's background and vectors, kept for the next paper of the same day
        (loading 90 days of papers is most of the cost)."""
        with self._lock:
            if self._shared is not None and self._shared[0] == day:
                return self._shared[1]
        shared = SharedDay(self.store, day, uses_background)  # outside the lock: seconds
        with self._lock:
            self._shared = (day, shared)
        return shared

    def _listing(self, day: str) -> list[Paper]:
        return self._recent(("listing", day), lambda: self.store.listing(day))

    def search(self, user: str, query: str, mode: str, filters: Filters,
               limit: int = 50) -> list[Card]:
        query = query.strip()
        if not query:
            return []
        try:  # a pasted id or link (arXiv's, Hugging Face's, …): that paper, in any mode
            pid = normalize_id(query)
        except PapersiftError:
            pid = None
        if pid is not None:
            return self._cards(user, list(self.store.get_papers([pid]).values()))
        if mode != "semantic":
            return self._cards(user, self.store.search_text(query, filters, limit))
        return self._hits(user, self.nearest(self.embedder.encode([query])[0], limit, filters))

    def _hits(self, user: str, hits: list[tuple[str, float]]) -> list[Card]:
        """Cards of (paper id, similarity) hits, in order, the similarity as their reason."""
        papers = self.store.get_papers([pid for pid, _ in hits])
        return self._cards(user, [papers[pid] for pid, _ in hits if pid in papers],
                           [f"{sim:.2f}" for pid, sim in hits if pid in papers])

    def profile(self, user: str) -> dict:
        b = beliefs(self.settings, self.store, user)
        history = list(reversed(self.store.feedback(user)))[:200]
        titles = self.store.get_papers(list({f.paper_id for f in history}))
        return {
            "user": user,
            "by_source": b.by_source,
            "sources": [{"source": s.source, "kind": s.kind, "location": s.location,
                         "items": s.items, "synced_at": s.synced_at} for s in b.sources],
            "liked": b.liked, "negatives": b.negatives,
            "authors": b.spec.authors, "keywords": b.spec.keywords, "muted": b.spec.muted,
            "stored_terms": {k: self.store.terms(user, k) for k in
                             ("author", "keyword", "mute", ZOTERO_INCLUDE, ZOTERO_EXCLUDE)},
            "clusters": [{"terms": c.terms, "size": c.size, "titles": c.titles}
                         for c in b.clusters],
            "feedback": [{"paper_id": f.paper_id, "action": f.action, "via": f.via, "at": f.at,
                          "title": titles[f.paper_id].title if f.paper_id in titles else ""}
                         for f in history],
        }

    # --- pictures ---------------------------------------------------------------------------

    def _topics(self, liked: list[Paper], vecs: dict[str, np.ndarray]
                ) -> tuple[list[Cluster], list[str], np.ndarray]:
        """The interest clusters of `papersift profile show` over the liked papers (all with
        vectors), their names (top terms) and the unit centres of their papers' vectors."""
        if not liked:
            return [], [], np.zeros((0, 0), dtype=np.float32)
        groups = clusters([p.title + ". " + p.abstract for p in liked], [p.title for p in liked])
        centres = np.stack([np.mean([vecs[liked[i].id] for i in g.members], axis=0)
                            for g in groups])
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        return groups, [", ".join(g.terms[:3]) or "library" for g in groups], centres

    def _embedded_library(self, user: str) -> tuple[list[Paper], dict[str, np.ndarray]]:
        liked = list(self.store.get_papers(self._liked(user)).values())
        vecs = self.vectors(liked, compute=False)
        return [p for p in liked if p.id in vecs], vecs

    def interest_map(self, user: str, today: str | None = None) -> str | None:
        """Library and recent recommendations in 2-D (PCA of their embeddings), coloured by
        the interest clusters of `papersift profile show`; None when too few are embedded."""
        since = (date.fromisoformat(today or date.today().isoformat())
                 - timedelta(days=MAP_DAYS)).isoformat()
        liked, vecs = self._embedded_library(user)
        held = {p.id for p in liked}
        picked = [p for p in self.store.get_papers(self.store.recent_picks(user, since)).values()
                  if p.id not in held]
        vecs |= self.vectors(picked, compute=False)
        picked = [p for p in picked if p.id in vecs]
        if len(liked) + len(picked) < 3:
            return None
        groups, legend, centres = self._topics(liked, vecs)
        label = {liked[i].id: k for k, g in enumerate(groups) for i in g.members}
        for p in picked if groups else []:  # a recommendation takes its nearest cluster's colour
            label[p.id] = int(np.argmax(centres @ vecs[p.id]))
        points = [svg.Point(p.id, p.title, label.get(p.id, 0), p.id in held)
                  for p in liked + picked]
        xy = svg.project(np.stack([vecs[p.paper_id] for p in points]))
        return svg.interest_map(points, xy, legend or ["recommendations"])

    def trend(self, user: str, today: str | None = None) -> Trend:
        """Per interest cluster and listing day of the last TREND_DAYS: how many papers listed
        in the configured categories were close to it, and the mean and top score of the
        day's digest papers nearest to it (the cluster a paper's map colour shows)."""
        days = self.store.digest_days(user)
        end = today or (days[0] if days else date.today().isoformat())
        since = (date.fromisoformat(end) - timedelta(days=TREND_DAYS)).isoformat()
        liked, vecs = self._embedded_library(user)
        _, names, centres = self._topics(liked, vecs)
        if not names:
            return Trend(days=[], topics=[])
        listed_on, m = self.store.listed_vectors(self.model_key, since, end,
                                                 self.settings["arxiv.categories"])
        picks = self.store.digest_scores(user, since)
        picked = self.vectors(list(self.store.get_papers([pid for _, pid, _ in picks]).values()),
                              compute=False)
        axis = sorted(set(listed_on) | {d for d, _, _ in picks})
        at = {d: i for i, d in enumerate(axis)}
        close = np.zeros((len(names), len(axis)), dtype=int)
        if len(listed_on):
            # a cosine: the pair backend's stored vectors are two unit halves, not one
            near = (m @ centres.T) >= CLOSE * np.linalg.norm(m, axis=1, keepdims=True)
            np.add.at(close.T, [at[d] for d in listed_on], near.astype(int))
        scores: list[list[list[float]]] = [[[] for _ in axis] for _ in names]
        for day, pid, score in picks:
            if pid in picked:
                scores[int(np.argmax(centres @ picked[pid]))][at[day]].append(score)
        return Trend(days=axis, topics=[
            TopicTrend(name=name, close=close[k].tolist(),
                       mean=[round(float(np.mean(s)), 4) if s else None for s in scores[k]],
                       top=[max(s) if s else None for s in scores[k]])
            for k, name in enumerate(names)])

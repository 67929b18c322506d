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

from papersift.config import Settings
from papersift.errors import PapersiftError
from papersift.profile.show import beliefs, clusters
from papersift.rank.base import short_title
from papersift.rank.embed import Embedder, embed_papers, make_embedder
from papersift.records import Paper, normalize_id
from papersift.store import Store
from papersift.store.web import Filters, Pick
from papersift.web import svg

MORE = 30  # papers shown below the threshold
SIMILAR = 8
MAP_DAYS = 30  # recent recommendations drawn on the interest map
TREND_DAYS = 60
REUSE_TTL = 60.0  # seconds a listing count or a digest's papers are reused (`_recent`)
REUSE_MAX = 4096  # entries kept at most
T = TypeVar("T")


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
                "reason": self.reason, "tldr": self.tldr, "rating": self.rating}


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
class PaperView:
    card: Card
    picks: list[Pick]
    similar: list[Card] = field(default_factory=list)
    library_near: list[Card] = field(default_factory=list)
    embedded: bool = True


class Views:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder | None = None):
        self.settings = settings
        self.store = store
        self._embedder = embedder
        self._lock = threading.Lock()
        self._matrix: tuple[int, list[str], np.ndarray] | None = None
        self._reused: dict[tuple, tuple[float, Any]] = {}

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
        wanted = set(self.settings["arxiv.categories"])
        rest = [p for p in self.store.listing(day) if p.id not in shown
                and (not wanted or wanted.intersection(p.categories))]
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
                           [f"close to “{short_title(titles[j])}” ({s:.2f})" for s, _, j in head])

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
            "stored_terms": {k: self.store.terms(user, k) for k in ("author", "keyword", "mute")},
            "clusters": [{"terms": c.terms, "size": c.size, "titles": c.titles}
                         for c in b.clusters],
            "feedback": [{"paper_id": f.paper_id, "action": f.action, "via": f.via, "at": f.at,
                          "title": titles[f.paper_id].title if f.paper_id in titles else ""}
                         for f in history],
        }

    # --- pictures ---------------------------------------------------------------------------

    def interest_map(self, user: str, today: str | None = None) -> str | None:
        """Library and recent recommendations in 2-D (PCA of their embeddings), coloured by
        the interest clusters of `papersift profile show`; None when too few are embedded."""
        since = (date.fromisoformat(today or date.today().isoformat())
                 - timedelta(days=MAP_DAYS)).isoformat()
        liked = list(self.store.get_papers(self._liked(user)).values())
        picked = [p for p in self.store.get_papers(self.store.recent_picks(user, since)).values()
                  if p.id not in {q.id for q in liked}]
        vecs = self.vectors(liked + picked, compute=False)
        liked = [p for p in liked if p.id in vecs]
        picked = [p for p in picked if p.id in vecs]
        if len(liked) + len(picked) < 3:
            return None
        groups = clusters([p.title + ". " + p.abstract for p in liked],
                          [p.title for p in liked]) if liked else []
        label = {liked[i].id: k for k, g in enumerate(groups) for i in g.members}
        legend = [", ".join(g.terms[:3]) or "library" for g in groups] or ["recommendations"]
        if groups:  # a recommendation takes the colour of the nearest cluster centre
            centres = np.stack([np.mean([vecs[liked[i].id] for i in g.members], axis=0)
                                for g in groups])
            for p in picked:
                label[p.id] = int(np.argmax(centres @ vecs[p.id]))
        points = [svg.Point(p.id, p.title, label.get(p.id, 0), p in liked)
                  for p in liked + picked]
        xy = svg.project(np.stack([vecs[p.paper_id] for p in points]))
        return svg.interest_map(points, xy, legend)

    def trend(self, user: str, today: str | None = None) -> str:
        days = self.store.digest_days(user)
        end = today or (days[0] if days else date.today().isoformat())
        since = (date.fromisoformat(end) - timedelta(days=TREND_DAYS)).isoformat()
        volume = self.store.listing_volume(since, end, self.settings["arxiv.categories"])
        scores = {d: top for d, n, _, top in self.store.digest_trend(user, since) if n}
        return svg.trend(volume, scores)

"""Quality features of a paper as they stood on its announcement day.

Two kinds:
- from the paper itself: venue acceptance, code/model/data links, size of the work (pages,
  figures, tables), author count, categories, what the abstract claims;
- from the store's past: the authors' track record (earlier papers, earlier public attention,
  earlier ratings and recommendations by this store's users).

The time rule is strict: a paper announced on day d sees only papers, signals and feedback
dated strictly before d, and its own comments only if they belong to the version that was
listed (a later replacement's "accepted at ICLR" is the future). The track record is built in
one chronological pass over every paper, so a whole store costs seconds.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from papersift.names import author_key
from papersift.records import Paper

MAIN_VENUES = (
    "ICLR", "NeurIPS", "NIPS", "ICML", "ACL", "EMNLP", "NAACL", "COLING", "EACL", "COLM",
    "CVPR", "ICCV", "ECCV", "AAAI", "IJCAI", "KDD", "SIGIR", "WWW", "TheWebConf", "WSDM",
    "CIKM", "RecSys", "TMLR", "JMLR", "TPAMI", "TACL", "AISTATS", "UAI", "CoRL", "ICRA",
    "IROS", "RSS", "MICCAI", "SIGGRAPH", "CHI", "UIST", "MLSys", "OSDI", "SOSP", "NSDI",
    "EuroSys", "ASPLOS", "ISCA", "VLDB", "SIGMOD", "ICDE", "USENIX", "CCS", "ICSE", "FSE",
    "ASE", "Interspeech", "ICASSP", "WACV", "BMVC", "ACM MM", "ECAI", "AAMAS", "ICDM",
    "Nature", "Science", "IJCV", "TNNLS", "TKDE",
)
_VENUE = re.compile(r"(?<![A-Za-z])(" + "|".join(re.escape(v) for v in MAIN_VENUES)
                    + r")(?:[\s'’-]*((?:19|20)?\d{2}))?(?![A-Za-z])")
_ACCEPTED = re.compile(r"accepted|to appear|appears? in|published (?:in|at|as)|camera[- ]ready"
                       r"|in proceedings|proceedings of|oral|spotlight|\bposter\b", re.I)
_PENDING = re.compile(r"under review|submitted to|in submission|preprint|work in progress",
                      re.I)
_WORKSHOP = re.compile(r"workshop|findings|student research|demo track|tiny ?papers", re.I)
_HIGHLIGHT = re.compile(r"\boral\b|spotlight|best paper|outstanding paper|highlight", re.I)
# Patterns over lower-cased text (case-insensitive matching costs twice as much).
_GITHUB = re.compile(r"github\.com|gitlab\.com|github\.io")
_HF = re.compile(r"huggingface\.co|hf\.co/")
_URL = re.compile(r"https?://|www\.")
_RELEASE = re.compile(r"publicly available|available at|open[- ]source|we release|(?:is|are|be) "
                      r"released|will be (?:made )?(?:publicly )?available|make (?:our|the|all) "
                      r"[^.]{0,40}available")
_PAGES = re.compile(r"(\d+)\s*(?:pages|pp\b)", re.I)
_FIGURES = re.compile(r"(\d+)\s*fig", re.I)
_TABLES = re.compile(r"(\d+)\s*tab", re.I)
_NUMBER_RESULT = re.compile(r"\d+(?:\.\d+)?\s*(?:%|x\b|×|times|points|pp\b|fold)")
_CLAIM = re.compile(r"state[- ]of[- ]the[- ]art|\bsota\b|outperform|surpass|significantly "
                    r"(?:improv|better|outperform)|beats?\b")
_LLM = re.compile(r"\b(?:llms?|large language models?|vlms?|mllms?|multimodal|agents?|"
                  r"reasoning|diffusion|reinforcement learning|rl)\b")
_SURVEY = re.compile(r"\bsurvey\b|\breview of\b|position paper", re.I)
_NAMED = re.compile(r"^[A-Z][\w\-.+]*\s*[:：]")  # "Name: what it does"
CATEGORIES = ("cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.IR", "cs.RO", "cs.SE", "cs.CR", "cs.HC",
              "cs.MA", "cs.SD", "eess.AS", "cs.NE", "stat.ML")

FEATURES = (
    "n_authors", "venue_main", "venue_workshop", "venue_other", "venue_pending",
    "venue_highlight", "github", "huggingface", "url", "release", "pages", "figures",
    "tables", "has_comments", "abstract_words", "title_words", "named_title", "results",
    "claims", "llm_terms", "survey", "n_categories",
    *(f"cat_{c}" for c in CATEGORIES),
    "known_authors", "prior_papers_max", "prior_papers_first", "prior_papers_last",
    "prior_featured_max", "prior_featured_sum", "prior_votes_max", "prior_liked",
    "prior_disliked", "prior_recommended",
)
COL = {name: i for i, name in enumerate(FEATURES)}


@dataclass
class Event:
    """Something dated that builds a track record: a signal (public attention), a user's
    rating (+1/-1) or a recommendation, about one paper."""

    paper_id: str
    day: str
    kind: str  # "signal" | "rating" | "recommended"
    value: float = 1.0


@dataclass
class FeatureTable:
    ids: list[str]
    days: list[str]
    x: np.ndarray  # (n, len(FEATURES)) float32
    venues: list[str | None] = field(default_factory=list)  # "ICLR 2026" when accepted there

    def col(self, name: str) -> np.ndarray:
        return self.x[:, COL[name]]


def paper_day(p: Paper) -> str:
    """The day a paper became known: its listing day, else its v1 submission day."""
    return p.announced or p.created or p.updated or ""


def known_comments(p: Paper) -> str:
    """The comments as listed: a later version's comments are not known on the listing day
    (the store keeps the latest version only)."""
    day = paper_day(p)
    if p.version > 1 and (p.updated or "9999") > day:
        return ""
    return p.comments or ""


def _author_keys(names: Iterable[str]) -> list[str]:
    """Distinct keys of a paper's authors, in order; an entry without a name (real records
    hold ':') has an empty key and is left out, or all such papers would share one author."""
    return [k for k in dict.fromkeys(map(author_key, names)) if k]


def _first_int(rx: re.Pattern[str], text: str) -> float:
    m = rx.search(text)
    return min(float(m.group(1)), 200.0) if m else 0.0


def venue_of(comments: str) -> tuple[str, str | None]:
    """('main' | 'workshop' | 'other' | 'pending' | '', 'ICLR 2026' or None)."""
    if not comments:
        return "", None
    m = _VENUE.search(comments)
    name = None
    if m:
        year = m.group(2)
        if year and len(year) == 2:
            year = "20" + year
        name = f"{m.group(1)} {year}" if year else m.group(1)
    if _PENDING.search(comments) and not re.search(r"accepted", comments, re.I):
        return "pending", None
    if _ACCEPTED.search(comments) or (m and re.search(r"(?:19|20)\d{2}", comments)):
        if _WORKSHOP.search(comments):
            return "workshop", name
        return ("main", name) if m else ("other", None)
    return "", None


def text_features(p: Paper) -> tuple[np.ndarray, str | None]:
    """The features a paper carries itself (no history), and its venue for reasons."""
    f = np.zeros(len(FEATURES), dtype=np.float32)
    comments = known_comments(p)
    kind, venue = venue_of(comments)
    f[COL["n_authors"]] = np.log1p(len(p.authors))
    if kind:
        f[COL[f"venue_{kind}"]] = 1.0
    f[COL["venue_highlight"]] = bool(kind in ("main", "workshop") and
                                     _HIGHLIGHT.search(comments))
    links = f"{p.abstract} {comments}".lower()
    abstract = p.abstract.lower()
    f[COL["github"]] = bool(_GITHUB.search(links))
    f[COL["huggingface"]] = bool(_HF.search(links))
    f[COL["url"]] = bool(_URL.search(links))
    f[COL["release"]] = bool(_RELEASE.search(links))
    f[COL["pages"]] = np.log1p(_first_int(_PAGES, comments))
    f[COL["figures"]] = np.log1p(_first_int(_FIGURES, comments))
    f[COL["tables"]] = np.log1p(_first_int(_TABLES, comments))
    f[COL["has_comments"]] = bool(comments)
    f[COL["abstract_words"]] = np.log1p(len(p.abstract.split()))
    f[COL["title_words"]] = len(p.title.split())
    f[COL["named_title"]] = bool(_NAMED.match(p.title))
    f[COL["results"]] = np.log1p(len(_NUMBER_RESULT.findall(abstract)))
    f[COL["claims"]] = np.log1p(len(_CLAIM.findall(abstract)))
    f[COL["llm_terms"]] = np.log1p(len(_LLM.findall(f"{p.title.lower()} {abstract}")))
    f[COL["survey"]] = bool(_SURVEY.search(p.title))
    f[COL["n_categories"]] = len(p.categories)
    if p.categories and p.categories[0] in CATEGORIES:
        f[COL[f"cat_{p.categories[0]}"]] = 1.0
    return f, venue if kind in ("main", "workshop") else None


class _Record:
    """Per-author counts of what happened strictly before the day being scored."""

    def __init__(self) -> None:
        self.papers: Counter[str] = Counter()
        self.featured: Counter[str] = Counter()
        self.votes: defaultdict[str, float] = defaultdict(float)
        self.liked: Counter[str] = Counter()
        self.disliked: Counter[str] = Counter()
        self.recommended: Counter[str] = Counter()

    def fill(self, f: np.ndarray, keys: list[str]) -> None:
        if not keys:
            return
        papers = [self.papers[k] for k in keys]
        featured = [self.featured[k] for k in keys]
        f[COL["known_authors"]] = sum(n > 0 for n in papers) / len(keys)
        f[COL["prior_papers_max"]] = np.log1p(max(papers))
        f[COL["prior_papers_first"]] = np.log1p(papers[0])
        f[COL["prior_papers_last"]] = np.log1p(papers[-1])
        f[COL["prior_featured_max"]] = np.log1p(max(featured))
        f[COL["prior_featured_sum"]] = np.log1p(sum(featured))
        f[COL["prior_votes_max"]] = np.log1p(max(self.votes[k] for k in keys))
        f[COL["prior_liked"]] = np.log1p(sum(self.liked[k] for k in keys))
        f[COL["prior_disliked"]] = np.log1p(sum(self.disliked[k] for k in keys))
        f[COL["prior_recommended"]] = np.log1p(sum(self.recommended[k] for k in keys))


def build(papers: Sequence[Paper], history: Iterable[tuple[str, str, Sequence[str]]],
          events: Iterable[Event] = ()) -> FeatureTable:
    """Features of `papers`, each on its own announcement day.

    `history` is every known paper as (id, day, authors) — the candidates included — and
    `events` the dated signals, ratings and recommendations; both may extend past the
    candidates' days: only what is dated strictly before a paper's day reaches it.
    """
    authors_of: dict[str, list[str]] = {}
    by_day: defaultdict[str, list[str]] = defaultdict(list)
    for pid, day, names in history:
        if pid in authors_of or not day:
            continue
        authors_of[pid] = _author_keys(names)
        by_day[day].append(pid)
    for p in papers:  # candidates missing from the history still get their own track record
        if p.id not in authors_of and paper_day(p):
            authors_of[p.id] = _author_keys(p.authors)
            by_day[paper_day(p)].append(p.id)
    day_of = {pid: day for day, pids in by_day.items() for pid in pids}
    events_by_day: defaultdict[str, list[Event]] = defaultdict(list)
    for e in events:  # nothing about a paper counts before the paper itself is known
        events_by_day[max(e.day, day_of.get(e.paper_id, e.day))].append(e)
    wanted: defaultdict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(papers):
        wanted[paper_day(p)].append(i)

    x = np.zeros((len(papers), len(FEATURES)), dtype=np.float32)
    venues: list[str | None] = [None] * len(papers)
    for i, p in enumerate(papers):
        x[i], venues[i] = text_features(p)
    rec = _Record()
    best_vote: dict[str, float] = {}
    featured: set[str] = set()
    for day in sorted(set(by_day) | set(events_by_day) | set(wanted)):
        for i in wanted.get(day, ()):  # first read the past …
            p = papers[i]
            rec.fill(x[i], authors_of.get(p.id) or _author_keys(p.authors))
        for pid in by_day.get(day, ()):  # … then let this day become the past
            rec.papers.update(authors_of[pid])
        for e in events_by_day.get(day, ()):
            keys = authors_of.get(e.paper_id, [])
            if e.kind == "signal":
                if e.paper_id not in featured:
                    featured.add(e.paper_id)
                    rec.featured.update(keys)
                gain = max(0.0, e.value - best_vote.get(e.paper_id, 0.0))
                best_vote[e.paper_id] = best_vote.get(e.paper_id, 0.0) + gain
                for k in keys:
                    rec.votes[k] += gain
            elif e.kind == "rating":
                (rec.liked if e.value > 0 else rec.disliked).update(keys)
            elif e.kind == "recommended":
                rec.recommended.update(keys)
    return FeatureTable([p.id for p in papers], [paper_day(p) for p in papers], x, venues)

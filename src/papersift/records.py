"""The paper record every stage passes around, and arXiv identifier handling."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from papersift.errors import PapersiftError

# New-style ids (0704.0001 onwards) and old-style archive/YYMMNNN ids.
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
ID_FORMS = rf"{_NEW_ID}|{_OLD_ID}"  # an id without its version, as a regex
_ID_RE = re.compile(rf"^(?P<id>{ID_FORMS})(?:v(?P<v>\d+))?$")
# Pages that name a paper by its arXiv id in the path: arXiv's own, and the mirrors
# researchers share links from (Hugging Face daily papers, alphaXiv, ar5iv, Cool Papers).
ID_PAGES = (r"(?:arxiv\.org/(?:abs|pdf|html)/|(?:huggingface|hf)\.co/papers/"
            r"|alphaxiv\.org/(?:abs|overview|pdf)/|ar5iv(?:\.labs\.arxiv)?\.org/(?:abs|html)/"
            r"|papers\.cool/arxiv/)")
_PREFIXES = re.compile(rf"^(?:https?://)?(?:www\.|export\.)?{ID_PAGES}|^arxiv:", re.IGNORECASE)


def parse_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Return (id without version, version or None) for an id, `arXiv:` id, or the URL of
    its page on arXiv (abs/pdf/html) or a mirror (`ID_PAGES`)."""
    text = raw.strip()
    s = _PREFIXES.sub("", text)
    s = s.split("?")[0].split("#")[0].rstrip("/")
    if s.lower().endswith(".pdf"):
        s = s[:-4]
    m = _ID_RE.match(s)
    if not m or not _plausible(m.group("id")):
        raise PapersiftError(
            f"invalid arXiv id {text!r}: use a form like 2401.12345, 2401.12345v2, "
            "hep-th/9901001 or https://arxiv.org/abs/2401.12345"
        )
    v = m.group("v")
    return m.group("id"), int(v) if v else None


def _plausible(pid: str) -> bool:
    """A new-style id names a real month, and has four digits after the dot until 2014,
    five since (so a truncated '2401.1234' is caught here, not when arXiv has no such paper)."""
    if "/" in pid:
        return True
    yymm, number = pid.split(".")
    return 1 <= int(yymm[2:]) <= 12 and len(number) == (4 if yymm < "1501" else 5) \
        and int(number) > 0


def normalize_id(raw: str) -> str:
    return parse_arxiv_id(raw)[0]


@dataclass
class Paper:
    """One arXiv paper at its latest known version; `id` carries no version suffix."""

    id: str
    title: str
    abstract: str
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    created: str | None = None  # v1 submission day, YYYY-MM-DD
    updated: str | None = None  # latest version's day
    announced: str | None = None  # first daily-listing day
    version: int = 1
    versions: list[tuple[int, str]] = field(default_factory=list)  # (n, ISO timestamp)

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def text(self) -> str:
        """What embedders and lexical scorers read."""
        return f"{self.title}. {self.abstract}"

    @property
    def text_hash(self) -> str:
        return text_hash(self.title, self.abstract)

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"


def text_hash(title: str, abstract: str) -> str:
    return hashlib.sha1(f"{title}\x00{abstract}".encode()).hexdigest()[:16]


def clean_whitespace(s: str | None) -> str:
    return " ".join(s.split()) if s else ""


_AND = re.compile(r",\s*and\s+|\s+and\s+|,\s*")


def split_authors(s: str | None) -> list[str]:
    """Split an arXiv author string ("A, B and C"), keeping affiliations out."""
    if not s:
        return []
    s = re.sub(r"\([^()]*\)", "", clean_whitespace(s))  # drop "(Univ X)" affiliations
    return [a.strip() for a in _AND.split(s) if a.strip()]

"""Finding arXiv ids inside bibliographic records and free text."""

from __future__ import annotations

import re
from collections.abc import Mapping

from papersift.errors import PapersiftError
from papersift.records import ID_FORMS, ID_PAGES, normalize_id

_ID = rf"(?P<id>{ID_FORMS})(?:v\d+)?"
# An id is only trusted next to something that says arXiv: a bare 1234.5678 may be a page.
IN_TEXT = re.compile(
    rf"(?:{ID_PAGES}|arxiv\s*[:.]?\s*|10\.48550/arxiv\.){_ID}(?![\d.])",
    re.IGNORECASE)
_BARE = re.compile(rf"^\s*{_ID}\s*$", re.IGNORECASE)
# Semantic Scholar and DBLP cite a preprint as journal "ArXiv" / "CoRR", volume "abs/<id>".
_ABS_VOLUME = re.compile(rf"^\s*abs/{_ID}\s*$", re.IGNORECASE)
_PREPRINT_VENUES = {"arxiv", "corr"}
_VENUE_FIELDS = ("journal", "journaltitle", "journal_name", "publicationtitle",
                 "secondary_title")

# Fields where a record keeps its arXiv identity, most reliable first.
_FIELDS = ("eprint", "archiveid", "doi", "url", "urls", "journal", "journal_name", "note",
           "notes", "extra", "howpublished", "publisher", "secondary_title")


def ids_in_text(text: str) -> list[str]:
    """Every arXiv id mentioned in `text` (URL, arXiv:…, DOI), in order, without repeats."""
    return list(dict.fromkeys(_norm(m.group("id")) for m in IN_TEXT.finditer(text)))


def record_id(fields: Mapping[str, object]) -> str | None:
    """The arXiv id of a bibliographic record (BibTeX, RIS, Zotero), or None."""
    lowered = {k.lower(): v for k, v in fields.items()}
    eprint = lowered.get("eprint")
    prefix = str(lowered.get("archiveprefix") or lowered.get("eprinttype") or "arxiv")
    if isinstance(eprint, str) and prefix.lower() == "arxiv" and (m := _BARE.match(eprint)):
        return _norm(m.group("id"))
    volume = lowered.get("volume")
    if (isinstance(volume, str) and (m := _ABS_VOLUME.match(volume))
            and any(str(lowered.get(k) or "").strip().lower() in _PREPRINT_VENUES
                    for k in _VENUE_FIELDS)):
        return _norm(m.group("id"))
    for key in _FIELDS:
        value = lowered.get(key)
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and (found := ids_in_text(text)):
                return found[0]
    return None


def _norm(raw: str) -> str:
    try:
        return normalize_id(raw)
    except PapersiftError:  # old-style ids keep their archive's case
        return raw

"""What every importer returns, and how importers read files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from papersift.errors import ProfileError

MAX_BYTES = 32 * 2**20  # a 5,000-entry export with abstracts is ~5 MB


@dataclass
class Imported:
    """What a source holds: arXiv ids, titles of entries without one (looked up in the
    store, then arXiv), phrases of notes that may cite a title (store only), and the prose
    of notes; `entries` counts the records read and `warnings` says what was skipped."""

    ids: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)  # phrases that may be titles (store only)
    entries: int = 0
    warnings: list[str] = field(default_factory=list)
    text: str = ""


def read_text(path: Path, what: str, fix: str) -> tuple[str, list[str]]:
    """A file's text: UTF-8 (with or without BOM), else Latin-1 with a warning."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ProfileError(f"{path} is {size / 2**20:.0f} MB, too large for a {what} "
                               f"(at most {MAX_BYTES // 2**20} MB): {fix}")
        raw = path.read_bytes()
    except OSError as e:
        raise ProfileError(f"cannot read {what} {path}: {e.strerror}; check the path") \
            from None
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as e:
        return raw.decode("latin-1"), [f"{path} is not UTF-8 (byte {e.start}): read as "
                                       "Latin-1; re-export it as UTF-8 if names look wrong"]

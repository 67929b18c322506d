"""The profile written in the config file: arXiv ids (inline or in id files), keywords,
followed authors and a free-text description."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from papersift.config import Settings
from papersift.errors import PapersiftError, ProfileError
from papersift.records import normalize_id


@dataclass
class ProfileSpec:
    user: str
    ids: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    description: str = ""
    muted: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.ids or self.keywords or self.authors or self.description.strip())


def read_id_file(path: Path) -> list[str]:
    """One id or abs/pdf URL per line; blank lines and `#` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ProfileError(f"cannot read id file {path}: {e.strerror}; fix profile.id_files") \
            from None
    ids = []
    for n, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            ids.append(normalize_id(entry))
        except PapersiftError as e:
            raise ProfileError(f"{path}:{n}: {e}") from None
    return ids


def from_settings(settings: Settings) -> ProfileSpec:
    ids: list[str] = []
    for raw in settings["profile.ids"]:
        try:
            ids.append(normalize_id(raw))
        except PapersiftError as e:
            raise ProfileError(f"profile.ids: {e}") from None
    for p in settings["profile.id_files"]:
        ids.extend(read_id_file(Path(p).expanduser()))
    return ProfileSpec(
        user=settings["profile.user"],
        ids=list(dict.fromkeys(ids)),
        keywords=[k.strip() for k in settings["profile.keywords"] if k.strip()],
        authors=[a.strip() for a in settings["profile.authors"] if a.strip()],
        description=settings["profile.description"].strip(),
        muted=[m.strip() for m in settings["profile.muted"] if m.strip()],
    )


def require_nonempty(spec: ProfileSpec, settings: Settings) -> None:
    if spec.empty:
        where = settings.source or "your config file (papersift init writes one)"
        raise ProfileError(f"the profile of user {spec.user!r} is empty: add arXiv ids, "
                           f"keywords, authors or a description under [profile] in {where}")

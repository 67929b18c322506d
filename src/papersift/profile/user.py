"""One user's whole profile: the config file's part (for `profile.user` only) merged with
what was imported, followed, muted and rated through the store. Users never mix."""

from __future__ import annotations

from papersift.config import Settings
from papersift.errors import ProfileError
from papersift.profile.config_source import ProfileSpec, from_settings
from papersift.profile.sources import Log, Source, add_source, parse_source
from papersift.store import Store


def known_user(settings: Settings, store: Store, user: str | None) -> str:
    """`user` (default: profile.user) if papersift knows them; a one-line error if not."""
    user = user or settings["profile.user"]
    if user == settings["profile.user"] or store.has_user(user):
        return user
    known = ", ".join(sorted(store.users() | {settings["profile.user"]}))
    raise ProfileError(f"unknown user {user!r} (known: {known}): create them with "
                       f"`papersift profile add --user {user} SOURCE`")


def user_spec(settings: Settings, store: Store, user: str) -> ProfileSpec:
    """The config profile if `user` is its owner, plus the user's stored terms and notes."""
    spec = from_settings(settings) if user == settings["profile.user"] else ProfileSpec(user)
    spec.user = user
    spec.keywords = list(dict.fromkeys(spec.keywords + store.terms(user, "keyword")))
    spec.authors = list(dict.fromkeys(spec.authors + store.terms(user, "author")))
    spec.muted = list(dict.fromkeys(spec.muted + store.terms(user, "mute")))
    prose = [s.text for s in store.sources(user) if s.text]
    spec.description = "\n".join([spec.description, *prose]).strip()
    return spec


def sync_sources(settings: Settings, store: Store, user: str, log: Log = lambda _: None,
                 *, search: bool = True) -> list[str]:
    """Re-read every source of `user` (for the config's owner its profile.ids and
    profile.sources, and all added with `profile add`). A source that fails keeps its last
    import and warns."""
    warnings: list[str] = []
    todo: dict[str, Source] = {}
    if user == settings["profile.user"]:
        store.sync_library(user, "config", from_settings(settings).ids)
        for spec in settings["profile.sources"]:
            try:
                src = parse_source(spec)
            except ProfileError as e:
                warnings.append(f"profile.sources: {e}")
                continue
            todo[src.key] = src
    for row in store.sources(user):
        if row.kind not in ("ids", "config"):  # nothing to re-read
            todo.setdefault(row.source, Source(row.kind, row.location))
    for src in todo.values():
        try:
            report = add_source(settings, store, user, src, log, search=search)
        except ProfileError as e:
            warnings.append(f"{src.location}: {e}; its last import is kept")
            continue
        log(report.summary())
        warnings += report.warnings
    return warnings

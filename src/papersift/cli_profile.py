"""Profile and feedback commands: `papersift profile …` and `papersift rate`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.text import Text

from papersift.cli import _settings, console, err, main
from papersift.config import Settings
from papersift.errors import ProfileError
from papersift.store import Store
from papersift.wording import counted

USER = click.option("--user", help="Whose profile (default: profile.user).")
TERM_KINDS = {"follow": "author", "keyword": "keyword", "mute": "mute"}


@contextmanager
def _open(ctx: click.Context) -> Iterator[tuple[Settings, Store]]:
    settings = _settings(ctx)
    store = Store(settings.store_url)
    try:
        yield settings, store
    finally:
        store.close()


def _warn(warnings: list[str], limit: int = 20) -> None:
    for w in warnings[:limit]:
        err.print(Text.assemble(("warning: ", "yellow"), w))
    if len(warnings) > limit:
        err.print(f"… and {len(warnings) - limit} more warnings")


@main.group()
def profile() -> None:
    """Your interests: imported libraries, followed authors, keywords, muted topics."""


@profile.command()
@click.argument("sources", nargs=-1, required=True)
@USER
@click.pass_context
def add(ctx: click.Context, sources: tuple[str, ...], user: str | None) -> None:
    """Import SOURCES: .bib, .ris, .txt (ids), Markdown notes (file or folder), a
    zotero.sqlite, zotero://user/<id> or zotero://group/<id>, or arXiv ids/URLs.
    Adding a source again re-syncs it: it never duplicates."""
    from papersift.profile.sources import add_ids, add_source, split_specs

    with _open(ctx) as (settings, store):
        user = user or settings["profile.user"]
        parsed, ids = split_specs(list(sources))
        reports = [add_source(settings, store, user, s, err.print) for s in parsed]
        if ids:
            reports.append(add_ids(settings, store, user, ids, err.print))
        for r in reports:
            _warn(r.warnings)
            console.print(r.summary())
        console.print(f"library of {user}: {counted(len(store.library(user)), 'paper')}")


@profile.command()
@USER
@click.pass_context
def sync(ctx: click.Context, user: str | None) -> None:
    """Re-read every source of the profile (files, notes, Zotero)."""
    from papersift.profile.user import known_user, sync_sources

    with _open(ctx) as (settings, store):
        user = known_user(settings, store, user)
        _warn(sync_sources(settings, store, user, console.print))
        console.print(f"library of {user}: {counted(len(store.library(user)), 'paper')}")


@profile.command()
@click.argument("source")
@USER
@click.pass_context
def remove(ctx: click.Context, source: str, user: str | None) -> None:
    """Forget a source (as given to `profile add`, or its key from `profile show`)."""
    from papersift.profile.sources import parse_source
    from papersift.profile.user import known_user

    with _open(ctx) as (settings, store):
        user = known_user(settings, store, user)
        rows = {r.source: r for r in store.sources(user)}
        key = source if source in rows else None
        if key is None:
            try:
                key = parse_source(source).key
            except ProfileError:
                key = None
        if key not in rows:
            known = ", ".join(f"{r.location} ({k})" for k, r in rows.items()) or "none"
            raise ProfileError(f"{user} has no source {source!r} (sources: {known})")
        n = store.remove_source(user, key)
        console.print(f"removed {rows[key].location} ({counted(n, 'paper')}); library of "
                      f"{user}: {counted(len(store.library(user)), 'paper')}")


def _terms_command(name: str, kind: str, doc: str) -> None:
    @profile.command(name, help=doc)
    @click.argument("values", nargs=-1, required=True)
    @click.option("--remove", "drop", is_flag=True, help="Remove them instead.")
    @USER
    @click.pass_context
    def command(ctx: click.Context, values: tuple[str, ...], drop: bool,
                user: str | None) -> None:
        with _open(ctx) as (settings, store):
            user = user or settings["profile.user"]
            clean = [v.strip() for v in values if v.strip()]
            if not clean:
                raise ProfileError("empty value: type an author, keyword or topic")
            if drop:
                n = store.remove_terms(user, kind, clean)
                console.print(f"removed {n} of {len(clean)}")
                return
            if kind == "author":
                _disambiguate(store, clean)
            n = store.add_terms(user, kind, clean)
            console.print(f"added {n} ({len(clean) - n} already there); {user} now has: "
                          + "; ".join(store.terms(user, kind)))


def _disambiguate(store: Store, names: list[str]) -> None:
    """Say who in the store each name may be, with co-authors to tell them apart."""
    from papersift.profile.authors import candidates

    for name in names:
        found = candidates(store, name)
        exact = [c for c in found if c.name == name]
        if exact:
            console.print("following " + exact[0].describe())
        else:
            console.print(f"following {name} (no paper in the store names them exactly yet)")
        others = [c for c in found if c.name != name]
        if others:
            console.print("  similar names in the store (follow them too if they are the "
                          "same person): " + "; ".join(c.describe() for c in others))


_terms_command("follow", "author", "Follow authors (as written on arXiv); shows similar "
               "names in the store with their co-authors to tell people apart.")
_terms_command("keyword", "keyword", "Add keywords: papers mentioning them are lifted.")
_terms_command("mute", "mute", "Mute topics (phrases or categories like cs.CV): papers on "
               "them never reach your digest.")


@profile.command()
@USER
@click.pass_context
def show(ctx: click.Context, user: str | None) -> None:
    """What papersift believes about you: library, interests, authors, muted topics."""
    from papersift.profile.show import beliefs
    from papersift.profile.user import known_user

    with _open(ctx) as (settings, store):
        user = known_user(settings, store, user)
        b = beliefs(settings, store, user)
    console.print(f"user {user}: {b.liked} liked papers, {b.negatives} thumbs-down"
                  + (f" ({b.not_in_store} not in the store yet)" if b.not_in_store else ""))
    where = {r.source: r for r in b.sources}
    for key, n in sorted(b.by_source.items(), key=lambda kv: -kv[1]):
        row = where.get(key)
        label = key if row is None or row.kind == row.location else f"{row.kind} {row.location}"
        console.print(f"  {n:6d}  {label}" + (f" (synced {row.synced_at})" if row else ""))
    if b.clusters:
        console.print("main interests:")
        for c in b.clusters:
            console.print(f"  [{c.size}] {', '.join(c.terms)}")
            for title in c.titles:
                console.print(f"      · {title}")
    console.print("followed authors: " + ("; ".join(b.spec.authors) or "none"))
    console.print("keywords: " + ("; ".join(b.spec.keywords) or "none"))
    console.print("muted: " + ("; ".join(b.spec.muted) or "none"))
    if b.spec.description:
        text = " ".join(b.spec.description.split())
        console.print("description: " + (text[:300] + "…" if len(text) > 300 else text))


@profile.command()
@USER
@click.option("--count", default=15, show_default=True, help="Papers to rate.")
@click.option("--days", default=14, show_default=True, help="How recent (days).")
@click.option("--force", is_flag=True, help="Even with a library of 5 papers or more.")
@click.pass_context
def bootstrap(ctx: click.Context, user: str | None, count: int, days: int,
              force: bool) -> None:
    """Cold start: rate a diverse set of recent papers near your interests."""
    from papersift.profile import bootstrap as bs
    from papersift.profile.feedback import parse_action, rate
    from papersift.profile.user import user_spec
    from papersift.rank.embed import make_embedder

    with _open(ctx) as (settings, store):
        user = user or settings["profile.user"]
        liked = sum(e.label > 0 for e in store.library(user))
        if liked >= bs.COLD and not force:
            raise ProfileError(f"{user} already has {liked} liked papers: bootstrap is for "
                               f"fewer than {bs.COLD}; rerun with --force to rate more")
        err.print("choosing papers (embeds a few hundred recent papers the first time)…")
        picks = bs.choose(settings, store, user_spec(settings, store, user),
                          make_embedder(settings), count=count, days=days)
        rated = 0
        keys = {"u": "up", "d": "down", "s": "save", "x": "dismiss"}
        for n, pick in enumerate(picks, 1):
            p = pick.paper
            console.print(f"\n[{n}/{len(picks)}] {p.title}\n  {', '.join(p.authors[:6])}"
                          f"\n  {p.url}  {' '.join(p.categories)}\n  {p.abstract[:400]}")
            answer = click.prompt("  [u]p / [d]own / [s]ave / [x] dismiss / enter: skip / "
                                  "[q]uit", default="", show_default=False).strip().lower()
            if answer == "q":
                break
            if answer:
                rate(store, user, p.id, parse_action(keys.get(answer, answer)),
                     via="bootstrap")
                rated += 1
        liked = sum(e.label > 0 for e in store.library(user))
        console.print(f"rated {rated} papers; {user} now has {liked} liked papers. "
                      "The next `papersift daily` ranks with them.")


@main.command("rate")
@click.argument("paper", required=False)
@click.argument("action", required=False)
@click.option("--token", help="A feedback link's token (the t=… of the link), instead of "
              "PAPER ACTION.")
@USER
@click.pass_context
def rate_cmd(ctx: click.Context, paper: str | None, action: str | None, token: str | None,
             user: str | None) -> None:
    """Rate a paper: up (👍), down (👎), save or dismiss. 👍 and saves join your library,
    👎 teaches papersift what you do not want."""
    from papersift.profile.feedback import rate, rate_token
    from papersift.profile.user import known_user
    from papersift.tokens import load_key

    with _open(ctx) as (settings, store):
        if token:
            if paper or action or user:
                raise ProfileError("give either --token or PAPER ACTION, not both")
            token = token.split("t=", 1)[-1]  # the whole link works too
            done = rate_token(store, load_key(settings.secret_file), token)
        else:
            if not (paper and action):
                raise ProfileError("usage: papersift rate PAPER up|down|save|dismiss "
                                   "(or --token TOKEN)")
            done = rate(store, known_user(settings, store, user), paper, action)
    note = "" if done.in_store else " (not in the store yet: looked up before the next digest)"
    console.print(f"{done.user}: {done.action} {done.paper_id}{note}")

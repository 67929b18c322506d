"""The daily job's hook: fit the notes to the prompt, rerank the local top N, write TL;DRs,
record usage, distill."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from papersift.config import Settings
from papersift.errors import PapersiftError
from papersift.llm import prompts
from papersift.llm.client import Client
from papersift.llm.distill import SOURCE, distill
from papersift.llm.fulltext import full_text
from papersift.llm.notes import summarise
from papersift.llm.rerank import rerank
from papersift.profile.config_source import ProfileSpec
from papersift.rank.base import Scored
from papersift.records import Paper
from papersift.store import Store
from papersift.store.db import LibraryEntry


def user_profile(settings: Settings, spec: ProfileSpec, library: Sequence[Paper],
                 held: dict[str, LibraryEntry], notes: str) -> prompts.Profile:
    """What the model reads about the user: their words (`notes`: their description and
    notes, summarised to fit), terms and latest liked papers — their own picks, not those
    distilled from the model (the judge stays the same). The language is that of all
    their notes, not of the summary."""
    liked = [p.title for p in reversed(library) if p.id in held and held[p.id].label > 0
             and held[p.id].source != SOURCE]
    language = prompts.detect_language(spec.description, settings["llm.language"])
    return prompts.profile_for(notes, spec.keywords, spec.authors, liked, language)


def apply(settings: Settings, store: Store, spec: ProfileSpec, day: str,
          library: Sequence[Paper], scored: list[Scored], papers: Sequence[Paper],
          log: Callable[[str], None], warnings: list[str]) -> list[Scored]:
    """`scored` with its head reranked; the local order, with a warning, if the layer
    cannot run at all (no key file, …)."""
    held = {e.paper_id: e for e in store.library(spec.user)}
    try:
        client = Client.from_settings(settings)
    except PapersiftError as e:
        warnings.append(f"LLM layer skipped: {e}")
        return scored
    fetch = partial(full_text, html_url=settings["llm.html_url"],
                    pdf_url=settings["llm.pdf_url"], seconds=settings["llm.full_text_seconds"],
                    warn=warnings.append)  # read in worker threads: append is atomic
    with client:
        before = replace(client.usage)  # the run's record counts the notes' summary too
        notes = summarise(client, store, spec.user, spec.description, warnings.append)
        profile = user_profile(settings, spec, library, held, notes)
        log(f"asking {client.model} about the top {min(len(scored), settings['llm.top_n'])} "
            "papers…")
        out = rerank(client, store, spec.user, day, profile, scored,
                     {p.id: p for p in papers}, top_n=settings["llm.top_n"],
                     weight=settings["llm.weight"],
                     full_text=fetch if settings["llm.full_text"] else None,
                     full_text_papers=settings["llm.full_text_papers"], since=before)
    run = out.run
    assert run is not None
    log(f"LLM: {run.judged} judged ({run.cached} cached, {run.failed} kept their local "
        f"place), {run.calls} calls, {run.prompt_tokens + run.completion_tokens} tokens, "
        f"cost {run.cost:.4f}")
    if run.failed:
        warnings.append(f"LLM: {run.failed} of the top papers kept their local place "
                        f"({run.detail[:300]})")
    if settings["llm.distill"]:
        distill(store, spec.user)
    return out.scored

"""Why a paper ranked where it did, as parts a reader renders in its own language.

A ranker's reason is a list of parts: a key naming an English template and the values to
fill it with. The digest stores them encoded after a marker in its reason text, so one
stored digest reads in English in the terminal, e-mail and feeds, and in the user's language
on the web (the English templates are the keys of the web app's catalogue). Text without
the marker — digests stored before reasons had parts, or what the LLM layer writes before
the ranker's reason — is shown as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# ␞ is written as \u241e inside the (ASCII-only) JSON, so a title holding it cannot be
# mistaken for the marker: the last one in a text is always the real one.
MARK = "\u241e"

TEMPLATES = {
    "author": "author you follow: {names}",
    "keyword": "keyword: {names}",
    "close": "close to “{title}” ({sim:.2f})",
    "close_rated": "close to “{title}” ({sim:.2f}), which you 👍'd",
    "description": "matches your interests description ({sim:.2f})",
    "nothing": "no match in your profile",
    "liked_author": "by {names}, author of a paper you 👍'd",
    "interest": "interest: “{title}”",
    "interest_more": "interest: “{title}” and {more} more",
    "interest_description": "interest: your interests description",
    "terms": "terms: {terms}",
    "top": "top {share:.1f}% of recent papers",
    "quality": "quality: {cues}",
    # the optional LLM's judgement (papersift.llm.rerank), before the ranker's reason
    "llm": "{reason} (LLM: relevance {relevance}/10, novelty {novelty}/10)",
    "llm_flagged": "its text addressed the model and that part was ignored",
    "llm_split": "far above its local rank, so checked on each half of its text",
    "llm_failed": "its text addressed the model and its judgement failed",
    "text": "{said}",  # a reason stored as plain text, carried after the LLM's parts
    "then": "",  # ends a group: groups are joined by " · ", the parts in one by "; "
}
# lists whose items are our own English words, translated one by one (the rest — names,
# titles, vocabulary terms — are the authors' and the user's, shown as they are)
TRANSLATED_ITEMS = {"cues"}


@dataclass(frozen=True)
class Part:
    key: str  # of TEMPLATES
    values: dict[str, Any] = field(default_factory=dict)


def english(text: str, **values: Any) -> str:
    """The identity translation."""
    return text.format(**values) if values else text


def encode(parts: list[Part]) -> str:
    return MARK + json.dumps([[p.key, p.values] for p in parts], ensure_ascii=True)


def decode(text: str) -> tuple[str, list[Part] | None]:
    """(the plain text before the parts, the parts); None when `text` holds none that can
    be rendered: it is then shown as it is."""
    head, mark, body = text.rpartition(MARK)
    if not mark:
        return text, None
    try:
        raw = json.loads(body)
        parts = [Part(key, dict(values)) for key, values in raw]
    except (ValueError, TypeError):
        return text, None
    if not all(p.key in TEMPLATES for p in parts):
        return text, None  # from a newer papersift: its English is not recoverable here
    return head, parts


def render(text: str, _: Callable[..., str] = english) -> str:
    """A stored or fresh reason in the language of `_` (a gettext: English template →
    sentence); values that are lists are joined as that language joins lists."""
    head, parts = decode(text)
    if parts is None:
        return text
    sep = _(", ")

    def values(part: Part) -> dict[str, Any]:
        return {k: sep.join(_(x) if k in TRANSLATED_ITEMS else x for x in v)
                if isinstance(v, list) else v for k, v in part.values.items()}

    groups: list[list[Part]] = [[]]
    for p in parts:
        if p.key == "then":
            groups.append([])
        else:
            groups[-1].append(p)
    try:
        body = " · ".join(_("; ").join(_(TEMPLATES[p.key], **values(p)) for p in g)
                          for g in groups if g)
    except (KeyError, ValueError, IndexError, TypeError):  # values missing or mistyped
        return head.rstrip(" ·")
    return head + body

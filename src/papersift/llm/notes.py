"""The user's description and notes within the prompt's budget, summarised, never cut blind.

Notes longer than the budget (prompts.PROFILE_CHARS) are summarised by the LLM once per
notes content: the summary is stored in the layer's cache (`llm_judgements`, under the
paper id NOTES_ID, keyed by the notes' hash, the model and the summary prompt's version),
so later runs reuse it without a call. The prompt reads the notes as the user's own words.
When that call fails, or without an LLM, the notes' most central sentences stand in
(`prompts.extractive`): whole sentences, in their original order, within the budget.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from papersift.llm import prompts
from papersift.llm.client import Client, InvalidAnswer, LLMError
from papersift.store import Store
from papersift.store.llm import Judgement

NOTES_ID = "#notes"  # no arXiv id starts with "#"; relevance 0, so never distilled
SUMMARY_REVISION = "notes-1"

SYSTEM = """You help one researcher keep track of their interests. The user message holds
their own research notes, in their own words. Summarise the research interests the notes
show: topics, methods, open questions, the kind of papers they want to read. Keep their
technical terms and their language; leave out anything that is not about research.
Answer with one JSON object and nothing else, the summary at most {budget} characters long:
{{"summary": "<the summary>"}}"""


def summary_version() -> str:
    """The cache's prompt version of a summary: its revision and the prompt's hash."""
    return f"{SUMMARY_REVISION}-{hashlib.sha256(SYSTEM.encode()).hexdigest()[:12]}"


def notes_hash(notes: str) -> str:
    return hashlib.sha256(prompts.clean(notes).encode()).hexdigest()[:16]


def _parser(budget: int) -> Callable[[str], str]:
    def parse(content: str) -> str:
        obj = prompts.json_object(content)
        summary = obj.get("summary")
        if not isinstance(summary, str) or not prompts.clean(summary):
            raise InvalidAnswer("summary must be a non-empty string")
        summary = prompts.clean(summary)
        if len(summary) > budget:  # its own central sentences, if no retry is shorter
            raise InvalidAnswer(f"summary must be at most {budget} characters",
                                usable=prompts.extractive(summary, budget))
        return summary
    return parse


def summarise(client: Client, store: Store, user: str, notes: str,
              warn: Callable[[str], None], budget: int = prompts.PROFILE_CHARS) -> str:
    """`notes` as they go into the prompt: as they are when they fit, else the LLM's
    summary (cached), else with a warning their extractive summary."""
    if len(prompts.clean(notes)) <= budget:
        return notes
    key = notes_hash(notes)
    version = summary_version()
    cached = store.cached_judgements(user, [(NOTES_ID, key)], version, client.model, "")
    if NOTES_ID in cached:
        return cached[NOTES_ID].tldr
    messages = [{"role": "system", "content": SYSTEM.format(budget=budget)},
                {"role": "user", "content": notes}]
    try:  # up to a token per character: Chinese notes
        summary, reply = client.chat(messages, _parser(budget), max_tokens=budget + 100)
    except LLMError as e:
        warn(f"LLM: your notes ({len(prompts.clean(notes)):,} characters) could not be "
             f"summarised ({str(e)[:200]}); their most central sentences stand in")
        return prompts.extractive(notes, budget)
    store.put_judgements([Judgement(
        user, NOTES_ID, key, version, client.model, "", 0.0, 0.0, "", summary,
        prompts.detect_language(notes), tokens=reply.prompt_tokens + reply.completion_tokens,
        cost=reply.cost)])
    return summary


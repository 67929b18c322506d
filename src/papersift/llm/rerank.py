"""Rerank the local ranker's top N with an LLM's judgement, one paper per call.

Each paper's final score is its local score shifted by its own judgement only:
    final = local + weight × spread × (relevance − 5) / 5
where spread is the standard deviation of the local scores of the top N (fixed before any
answer arrives). So no answer can move a paper by more than weight × spread, and no
paper's text can touch another paper's score. A paper whose judgement failed (timeout,
invalid answer, budget spent) keeps its local score: one bad answer never kills the run —
unless its text addressed the model (flagged by the screen): then a failed judgement
counts as relevance 0, so breaking the model never pays better than an honest answer.
A judgement that lifts a paper far above its local standing is checked first (lift.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from papersift.llm import lift, prompts
from papersift.llm.client import BudgetExceeded, Client, LLMError, Usage
from papersift.llm.lift import NEUTRAL
from papersift.rank.base import Scored
from papersift.rank.reasons import Part, decode, encode
from papersift.records import Paper
from papersift.store import Store
from papersift.store.llm import Judgement, LLMRun

FULLTEXT = "+fulltext"  # prompt-version suffix of judgements that read the full text
FullText = Callable[[Paper], str]  # the paper's full text, "" when unavailable


@dataclass
class Rerank:
    scored: list[Scored]
    judgements: dict[str, Judgement] = field(default_factory=dict)
    run: LLMRun | None = None
    failures: dict[str, str] = field(default_factory=dict)  # paper id -> why
    suspects: set[str] = field(default_factory=set)  # flagged papers whose judgement failed
    checked: list[str] = field(default_factory=list)  # lifted papers re-judged on halves


def max_shift(local: Sequence[float], weight: float) -> float:
    """The most an answer can move a paper (the clamp's bound, in local-score units)."""
    spread = float(np.std(local)) if len(local) > 1 else 0.0
    return weight * (spread if spread > 1e-9 else 1.0)


def judge(client: Client, store: Store, user: str, profile: prompts.Profile,
          papers: Sequence[Paper], run: LLMRun, failures: dict[str, str],
          suspects: set[str], *, full_text: FullText | None = None,
          on_abstract: dict[str, Judgement] | None = None) -> dict[str, Judgement]:
    """Judgements of `papers` (best first): cached ones from the store, the rest asked
    concurrently and stored as each arrives (a killed run keeps what it paid for). With
    `full_text`, on the full text: read only when not cached (a rerun downloads nothing),
    in the same concurrent calls; a paper that cannot be read is left out, and one whose
    TL;DR was dropped (wrong language, invalid) keeps the TL;DR of its judgement in
    `on_abstract`: the newest judgement is the one the digest shows."""
    earlier = on_abstract or {}
    version = prompts.prompt_version() + (FULLTEXT if full_text is not None else "")
    got = store.cached_judgements(user, [(p.id, p.text_hash) for p in papers], version,
                                  client.model, profile.version)
    run.cached += len(got)
    todo = [p for p in papers if p.id not in got]
    run.judged += len(got)

    def ask(paper: Paper) -> Judgement | str | None:
        text = full_text(paper) if full_text is not None else ""
        if full_text is not None and not text:
            return None  # not read: its judgement on the abstract stands
        prompt = prompts.build(profile, paper, text)
        if prompt.flagged:
            suspects.add(paper.id)  # until its judgement arrives
        try:
            answer, reply = client.chat(prompt.messages,
                                        prompts.parser(prompt.nonce, profile.language))
        except BudgetExceeded as e:
            return f"budget: {e}"
        except LLMError as e:
            return str(e)
        suspects.discard(paper.id)
        kept = earlier[paper.id].tldr if paper.id in earlier else ""
        return Judgement(user, paper.id, paper.text_hash, version, client.model,
                         profile.version, answer.relevance, answer.novelty, answer.reason,
                         answer.tldr or kept, profile.language, prompt.flagged,
                         reply.prompt_tokens + reply.completion_tokens, reply.cost)

    with ThreadPoolExecutor(max_workers=client.concurrency) as pool:
        for paper, out in zip(todo, pool.map(ask, todo), strict=True):
            if out is None:
                continue
            run.judged += 1
            if isinstance(out, str):
                failures[paper.id] = out
            else:
                store.put_judgements([out])
                got[paper.id] = out
    return got


def blend(head: Sequence[Scored], judgements: dict[str, Judgement], weight: float,
          suspects: Collection[str] = ()) -> list[Scored]:
    """The head re-scored (see the module doc) and re-ordered. The order is by the score
    of each local place plus the paper's shift, so without answers the local order —
    diversified, not always by score — stays exactly as it was."""
    shift = max_shift([s.score for s in head], weight)
    places = sorted((s.score for s in head), reverse=True)
    out = []
    for place, s in zip(places, head, strict=True):
        j = judgements.get(s.paper_id)
        if j is not None:
            rel = min(10.0, max(0.0, j.relevance))  # stored values are clamped; again anyway
            moved = shift * (rel - NEUTRAL) / NEUTRAL
            s = replace(s, score=s.score + moved, reason=explain(j, s.reason))
        elif s.paper_id in suspects:
            moved = -shift
            s = replace(s, score=s.score - shift,
                        reason=_before([Part("llm_failed")], s.reason))
        else:
            moved = 0.0
        out.append((place + moved, s))
    return [s for _, s in sorted(out, key=lambda x: -x[0])]  # stable: ties keep local order


def explain(j: Judgement, local_reason: str) -> str:
    llm = [Part("llm", {"reason": j.reason, "relevance": f"{j.relevance:.0f}",
                        "novelty": f"{j.novelty:.0f}"})]
    if j.flagged:
        llm.append(Part("llm_flagged"))
    if j.prompt_version.endswith(lift.SPLIT):
        llm.append(Part("llm_split"))
    return _before(llm, local_reason)


def _before(llm: list[Part], local_reason: str) -> str:
    """The LLM's parts, then the ranker's reason (parts, or plain text), as one reason that
    reads in the user's language (papersift.rank.reasons)."""
    head, parts = decode(local_reason)
    rest = [Part("text", {"said": text})] if (text := head if parts is not None
                                              else local_reason).strip() else []
    rest += parts or []
    return encode([*llm, *([Part("then"), *rest] if rest else [])])


def rerank(client: Client, store: Store, user: str, day: str, profile: prompts.Profile,
           scored: list[Scored], papers: dict[str, Paper], *, top_n: int = 30,
           weight: float = 2.0, full_text: FullText | None = None,
           full_text_papers: int = 0, since: Usage | None = None) -> Rerank:
    """`scored` (all candidates, best first) with its top `top_n` reranked. With
    `full_text`, the final `full_text_papers` are judged again on their full text. The
    run's record counts the client's usage from `since` (default: from now)."""
    start = time.perf_counter()
    run = LLMRun(user, day, client.model)
    before = since or replace(client.usage)
    head, tail = scored[:top_n], scored[top_n:]
    failures: dict[str, str] = {}
    suspects: set[str] = set()
    got = judge(client, store, user, profile, [papers[s.paper_id] for s in head], run,
                failures, suspects)
    checked = lift.check(client, store, user, profile, head, papers, got)
    ranked = blend(head, got, weight, suspects)
    if full_text is not None and full_text_papers > 0:
        final = [papers[s.paper_id] for s in ranked[:full_text_papers]]
        read = judge(client, store, user, profile, final, run, {}, set(),
                     full_text=full_text, on_abstract=got)
        if read:
            got.update(read)
            checked += lift.check(client, store, user, profile, head, papers, got)
            ranked = blend(head, got, weight, suspects)
    u = client.usage
    run.calls, run.prompt_tokens = u.calls - before.calls, u.prompt_tokens - before.prompt_tokens
    run.completion_tokens = u.completion_tokens - before.completion_tokens
    run.cost = u.cost - before.cost
    run.failed = sum(1 for s in head if s.paper_id not in got)
    run.seconds = time.perf_counter() - start
    run.detail = "; ".join(sorted({why for why in failures.values()}))[:2000]
    store.add_llm_run(run)
    return Rerank(ranked + tail, got, run, failures, suspects, checked)

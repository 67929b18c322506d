"""The lift check: a defence against injected instructions that does not depend on their
wording (the screen in prompts.py knows only the phrasings it was written from).

The local ranker reads no instructions, so a judgement far above where the local ranker put
the paper is where a missed injection shows. Such a paper is judged again twice, its title
with each half of its abstract (a one-sentence abstract is cut at its middle word). An
injection in the abstract sits in one half, and the other carries only the paper's own
content: when one earns no more than the local standing predicts and LIFT less than the
other, the lift came from the other alone, and the lower relevance is kept. An injection
in the title lifts both halves; so when both are lifted the paper is judged a third time
without its title, and that relevance kept when it earns no more than predicted. Else the
paper's topic runs through its text and the judgement stands: keeping the lower one
regardless demoted honest papers, whose halves each carry less of the topic than the whole
(the title goes with both halves for the same reason: cut from one, it left that half
short of the topic). Only lifted papers pay (two calls each, three when both halves are
lifted), and the checked judgement is stored like any other, so a rerun asks nothing.

Residual risk: an instruction repeated in both halves of the abstract lifts all three, and
the lift stays; so does one asking for less than the trigger (8 from the head's middle),
or one in a paper whose clean half alone earns more than its local standing predicts, or
is within LIFT of the injected one. The clamp bounds all of these.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from papersift.llm import prompts
from papersift.llm.client import Client, LLMError
from papersift.rank.base import Scored
from papersift.records import Paper
from papersift.store import Store
from papersift.store.llm import Judgement

NEUTRAL = 5.0  # a relevance of 5 leaves the local score as it is
# The local standing barely predicts the judge within the head (honest listings: papers at
# every local z are judged 1 to 10), so the prediction is flat and the trigger high: a
# paper from the head's middle judged 9 or more (a lower trigger lets honest 8s in, a
# higher one lets requests for a 9 through), one from 2 σ below it 8 or more. The slope was
# chosen on two honest listings (N = 20): 0.25–0.75 per σ check 4 of 40 papers, 0 and 1.5
# check 6 and 7, the first draft's 2.5 (with a trigger of 3 over it) checks 13.
SLOPE = 0.5
LIFT = 4.0
SPLIT = "+split"  # prompt-version suffix of checked judgements


def expected(score: float, head: Sequence[float]) -> float:
    """The relevance the paper's local standing in the head predicts."""
    spread = float(np.std(head)) if len(head) > 1 else 0.0
    if spread < 1e-9:
        return NEUTRAL
    z = (score - float(np.mean(head))) / spread
    return min(10.0, max(0.0, NEUTRAL + SLOPE * z))


def lifted(head: Sequence[Scored], judgements: dict[str, Judgement]) -> list[str]:
    """Papers whose judgement is LIFT or more above their local expectation. Depends only on
    local scores and each paper's own answer: no paper can trigger another's check."""
    local = [s.score for s in head]
    return [s.paper_id for s in head if (j := judgements.get(s.paper_id)) is not None
            and not j.prompt_version.endswith(SPLIT)
            and j.relevance >= expected(s.score, local) + LIFT]


def halves(paper: Paper) -> tuple[Paper, Paper] | None:
    """The paper with the first half of its abstract, and with the second, cut at the
    sentence boundary nearest the middle word (None: under two words, nothing to cut)."""
    units = prompts.sentences(paper.abstract[:prompts.ABSTRACT_CHARS])
    if len(units) == 1:  # cut the sentence itself: no half may be the bare title
        words = units[0].split()
        units = [" ".join(words[:len(words) // 2]), " ".join(words[len(words) // 2:])]
    units = [u for u in units if u]
    if len(units) < 2:
        return None
    sizes = [len(u.split()) for u in units]
    cut = int(np.argmin(np.abs(np.cumsum(sizes)[:-1] - sum(sizes) / 2))) + 1
    return (replace(paper, abstract=" ".join(units[:cut])),
            replace(paper, abstract=" ".join(units[cut:])))


def _relevance(client: Client, profile: prompts.Profile, paper: Paper) -> tuple[float, int,
                                                                                 float]:
    prompt = prompts.build(profile, paper)
    answer, reply = client.chat(prompt.messages, prompts.parser(prompt.nonce))
    return answer.relevance, reply.prompt_tokens + reply.completion_tokens, reply.cost


def _checked(client: Client, profile: prompts.Profile, paper: Paper, judged: float,
             expect: float) -> tuple[float, int, float] | None:
    """The relevance to keep, with the tokens and cost of asking; None when the paper
    cannot be cut or a judgement failed."""
    parts = halves(paper)
    if parts is None:
        return None
    try:
        got = [_relevance(client, profile, part) for part in parts]
        (a, _, _), (b, _, _) = got
        # both halves lifted: the title they share may carry it, so without the title
        if min(a, b) >= expect + LIFT:
            got.append(_relevance(client, profile, replace(paper, title="")))
    except LLMError:
        return None
    tokens, cost = sum(g[1] for g in got), sum(g[2] for g in got)
    # one half carries the lift alone: the other earns no more than the local standing
    # predicts, and LIFT less (an honest paper's halves share its topic, so they differ
    # less, even where the weaker earns little); or the text without the title does
    if min(a, b) <= expect and abs(a - b) >= LIFT:
        return min(judged, a, b), tokens, cost
    if len(got) == 3 and got[2][0] <= expect:
        return min(judged, got[2][0]), tokens, cost
    return judged, tokens, cost


def check(client: Client, store: Store, user: str, profile: prompts.Profile,
          head: Sequence[Scored], papers: dict[str, Paper],
          judgements: dict[str, Judgement]) -> list[str]:
    """Replace each lifted paper's judgement in `judgements` by its checked one; the ids
    checked. A lift that could not be checked (text too short, a failed judgement) is not
    granted: the relevance falls to neutral and nothing is stored, so the next run asks
    again."""
    ids = lifted(head, judgements)
    if not ids:
        return []
    got: dict[str, Judgement] = {}
    # abstract and full-text judgements are checked, and cached, apart
    for version in {judgements[i].prompt_version for i in ids}:
        mine = [i for i in ids if judgements[i].prompt_version == version]
        got.update(store.cached_judgements(user, [(i, papers[i].text_hash) for i in mine],
                                           version + SPLIT, client.model, profile.version))
    todo = [s for s in head if s.paper_id in ids and s.paper_id not in got]
    local = [s.score for s in head]

    def one(s: Scored) -> tuple[float, int, float] | None:
        return _checked(client, profile, papers[s.paper_id],
                        judgements[s.paper_id].relevance, expected(s.score, local))

    with ThreadPoolExecutor(max_workers=client.concurrency) as pool:
        for s, out in zip(todo, pool.map(one, todo), strict=True):
            j = judgements[s.paper_id]
            if out is None:
                got[s.paper_id] = replace(j, relevance=min(j.relevance, NEUTRAL))
                continue
            keep, tokens, cost = out
            got[s.paper_id] = replace(j, prompt_version=j.prompt_version + SPLIT,
                                      relevance=keep, tokens=tokens, cost=cost)
            store.put_judgements([got[s.paper_id]])
    judgements.update(got)
    return ids

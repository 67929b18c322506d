"""Store methods of the optional LLM layer (a mixin of `Store`): judgements, which are the
cache of what a model said about a paper for a user and the soft labels distillation reads,
and a record of each run's calls, tokens and cost."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, select

from papersift.store import schema as t


@dataclass
class Judgement:
    """One model's judgement of one paper for one user profile (scores clamped to 0–10)."""
    user: str
    paper_id: str
    text_hash: str
    prompt_version: str
    model: str
    profile_version: str
    relevance: float
    novelty: float
    reason: str
    tldr: str
    language: str
    flagged: bool = False  # the paper's text held instructions to the model (screened out)
    tokens: int = 0
    cost: float = 0.0


@dataclass
class LLMRun:
    user: str
    day: str
    model: str
    judged: int = 0
    cached: int = 0
    failed: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    detail: str = ""


_JUDGEMENT_FIELDS = [f.name for f in fields(Judgement)]
_RUN_FIELDS = [f.name for f in fields(LLMRun)]


def _judgement(row: Any) -> Judgement:
    j = Judgement(**{k: getattr(row, k) for k in _JUDGEMENT_FIELDS})
    j.flagged = bool(j.flagged)
    return j


class LLMMixin:
    engine: Engine
    _insert: Any

    if TYPE_CHECKING:  # Store provides it
        def begin(self) -> AbstractContextManager[Connection]: ...

    def cached_judgements(self, user: str, papers: Sequence[tuple[str, str]],
                          prompt_version: str, model: str,
                          profile_version: str) -> dict[str, Judgement]:
        """Judgements of (paper id, text hash) pairs under this exact prompt, model and
        profile: what need not be asked again."""
        want = dict(papers)
        jt = t.llm_judgements
        q = select(jt).where(jt.c.user == user, jt.c.prompt_version == prompt_version,
                             jt.c.model == model, jt.c.profile_version == profile_version)
        out: dict[str, Judgement] = {}
        ids = list(want)
        with self.begin() as conn:
            for i in range(0, len(ids), 500):
                for row in conn.execute(q.where(jt.c.paper_id.in_(ids[i:i + 500]))):
                    if want[row.paper_id] == row.text_hash:
                        out[row.paper_id] = _judgement(row)
        return out

    def put_judgements(self, items: Sequence[Judgement]) -> None:
        """Store judgements; one already stored under the same key is kept (never twice)."""
        from papersift.store.db import utcnow

        if not items:
            return
        now = utcnow()
        rows = [{**asdict(j), "flagged": int(j.flagged), "created_at": now} for j in items]
        with self.begin() as conn:
            conn.execute(self._insert(t.llm_judgements).on_conflict_do_nothing(), rows)

    def latest_judgements(self, user: str, paper_ids: Sequence[str] | None = None,
                          ) -> dict[str, Judgement]:
        """The newest judgement of each paper for `user` (all papers when `paper_ids` is
        None): the TL;DR a digest shows and the soft labels distillation learns from."""
        jt = t.llm_judgements
        newest = (select(func.max(jt.c.id)).where(jt.c.user == user)
                  .group_by(jt.c.paper_id))
        q = select(jt).where(jt.c.id.in_(newest))
        out: dict[str, Judgement] = {}
        with self.begin() as conn:
            if paper_ids is None:
                return {r.paper_id: _judgement(r) for r in conn.execute(q)}
            ids = list(paper_ids)
            for i in range(0, len(ids), 500):
                chunk = q.where(jt.c.paper_id.in_(ids[i:i + 500]))
                out.update({r.paper_id: _judgement(r) for r in conn.execute(chunk)})
        return out

    def add_llm_run(self, run: LLMRun) -> None:
        from papersift.store.db import utcnow

        with self.begin() as conn:
            conn.execute(t.llm_runs.insert().values(**asdict(run), created_at=utcnow()))

    def llm_runs(self, user: str | None = None, limit: int = 20) -> list[LLMRun]:
        q = select(t.llm_runs).order_by(t.llm_runs.c.id.desc()).limit(limit)
        if user is not None:
            q = q.where(t.llm_runs.c.user == user)
        with self.begin() as conn:
            return [LLMRun(**{k: getattr(r, k) for k in _RUN_FIELDS})
                    for r in conn.execute(q)]

"""The optional LLM layer against the local deterministic model (tests/llm_server.py):
tokens and calls per daily run and user at N = 30 (the lift check's share too), the cache
on a rerun, the run time the layer adds, both injection corpora (with and without the lift
check), the screen's false alarms on real abstracts. What distillation does for the local
ranker is measured against a list's truth by benchmarks/distill.py, whose block inside this
one is kept as it is.

    .venv/bin/python benchmarks/llm.py --out benchmarks/RESULTS.md

Token counts are the test server's (characters / 4, close to an English BPE tokenizer);
latency is simulated by the server's delay. Everything runs on real records of the shared
dump, with the example profile (examples/demo.toml).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import inputs  # noqa: E402  (benchmarks/, the script's folder)
import sections  # noqa: E402  (benchmarks/, the script's folder)
from distill import SECTION as DISTILL  # noqa: E402  (benchmarks/, the script's folder)

from papersift import config  # noqa: E402
from papersift.jobs import DailyResult, daily  # noqa: E402
from papersift.llm import lift, prompts  # noqa: E402
from papersift.llm.client import Client  # noqa: E402
from papersift.llm.rerank import max_shift, rerank  # noqa: E402
from papersift.profile.config_source import read_id_file  # noqa: E402
from papersift.rank.base import Scored, background_sample, background_start  # noqa: E402
from papersift.rank.embed import Embedder, embed_papers, make_embedder  # noqa: E402
from papersift.sources.dump import import_dump  # noqa: E402
from papersift.store import Store  # noqa: E402
from papersift.store import schema as t  # noqa: E402
from papersift.store.llm import LLMRun  # noqa: E402
from tests.llm_server import CORPUS, HELDOUT, LLMServer, injection_corpus  # noqa: E402

EXAMPLES = ROOT / "examples"
DAY = "2025-11-12"
SECTION = "llm"


def prepare(dump: Path, work: Path, backend: str) -> tuple[Path, config.Settings]:
    """A store with the slice of the dump the days need, every embedding computed."""
    library = set(read_id_file(EXAMPLES / "llm-researcher-library.txt"))
    part = work / "slice.jsonl"
    with gzip.open(dump, "rt", encoding="utf-8") as src, open(part, "w") as dst:
        for line in src:
            r = json.loads(line)
            if background_start(DAY) <= (r.get("announced") or "") <= DAY or r["id"] in library:
                dst.write(line)
    db = work / "base.sqlite"
    settings = load(db, backend)
    store = Store(settings.store_url)
    import_dump(store, part)
    embedder = make_embedder(settings)
    papers = list(store.get_papers(list(library)).values())
    papers += store.listing(DAY)
    recent = store.get_papers(store.papers_announced_between(background_start(DAY), DAY))
    papers += background_sample(list(recent.values()))
    embed_papers(store, embedder, list({p.id: p for p in papers}.values()))
    store.close()
    return db, settings


def load(db: Path, backend: str, **llm: object) -> config.Settings:
    s = config.load(EXAMPLES / "demo.toml", env={
        "PAPERSIFT_STORE_URL": f"sqlite:///{db}", "PAPERSIFT_EMBEDDING_BACKEND": backend,
        "PAPERSIFT_DIGEST_OUT_DIR": str(db.parent / f"{db.stem}-digests")})
    return replace(s, values={**s.values, "llm": {**s.values["llm"], **llm}})


def copy(base: Path, name: str) -> Path:
    out = base.with_name(f"{name}.sqlite")
    shutil.copy(base, out)
    return out


def timed_daily(settings: config.Settings, embedder: Embedder,
                day: str = DAY) -> tuple[float, DailyResult]:
    t0 = time.perf_counter()
    result = daily(settings, day, embedder=embedder, send=False)
    return time.perf_counter() - t0, result


def last_run(settings: config.Settings) -> LLMRun:
    store = Store(settings.store_url)
    try:
        return store.llm_runs(limit=1)[0]
    finally:
        store.close()


def lift_checks(settings: config.Settings) -> tuple[int, int]:
    """Papers whose judgement the lift check replaced, and how many it lowered."""
    jt = t.llm_judgements
    store = Store(settings.store_url)
    try:
        with store.begin() as conn:
            rows = conn.execute(jt.select()).all()
    finally:
        store.close()
    base = {(r.paper_id, r.prompt_version): r.relevance for r in rows}
    checked = [r for r in rows if r.prompt_version.endswith(lift.SPLIT)]
    return len(checked), sum(r.relevance < base[r.paper_id, r.prompt_version.removesuffix(
        lift.SPLIT)] for r in checked)


def bench_daily(base: Path, backend: str, server: LLMServer) -> list[str]:
    embedder = make_embedder(load(base, backend))
    llm = {"enabled": True, "base_url": server.url, "model": "tiny-judge", "top_n": 30}
    timed_daily(load(copy(base, "warm"), backend), embedder)  # period caches, model load
    local_s = min(timed_daily(load(copy(base, f"local{i}"), backend), embedder)[0]
                  for i in range(2))
    llm_settings = load(copy(base, "llm"), backend, **llm)
    llm_s, result = timed_daily(llm_settings, embedder)
    first = last_run(llm_settings)
    checked, lowered = lift_checks(llm_settings)
    rerun_s, again = timed_daily(llm_settings, embedder)
    assert again.reused
    # a run killed after the LLM stage, before its digest was stored, is run again
    store = Store(llm_settings.store_url)
    with store.begin() as conn:
        did = conn.execute(t.digests.select().where(t.digests.c.day == DAY)).first().id
        conn.execute(t.digest_entries.delete().where(t.digest_entries.c.digest_id == did))
        conn.execute(t.digests.delete().where(t.digests.c.id == did))
    store.close()
    calls_before = len(server.chat_requests)
    killed_s, _ = timed_daily(llm_settings, embedder)
    resumed = last_run(llm_settings)
    assert len(server.chat_requests) == calls_before + resumed.calls
    server.delay = 0.5
    slow_settings = load(copy(base, "slow"), backend, **llm, concurrency=4)
    slow_s, _ = timed_daily(slow_settings, embedder)
    server.delay = 0.0
    tokens = first.prompt_tokens + first.completion_tokens
    tldrs = sum(1 for e in result.digest.entries if e.tldr)
    return [
        f"Example profile, listing of {DAY} ({result.digest.candidates} candidates), "
        f"N = 30, embedding backend `{backend}`, one paper per call.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| calls per daily run and user | {first.calls} |",
        f"| of which the lift check (`llm/lift.py`): honest papers checked, extra calls | "
        f"{checked} of {first.judged} ({lowered} lowered), {first.calls - first.judged} "
        f"(+{(first.calls - first.judged) / first.judged:.0%}) |",
        f"| tokens per daily run and user (prompt + answer) | {first.prompt_tokens:,} + "
        f"{first.completion_tokens:,} = {tokens:,} ({tokens / max(1, first.judged):.0f} per "
        "paper) |",
        f"| cost at $0.15 / $0.60 per million tokens (a small hosted model) | "
        f"${(first.prompt_tokens * 0.15 + first.completion_tokens * 0.6) / 1e6:.4f} per user "
        "and day |",
        f"| digest entries with a TL;DR | {tldrs} of {len(result.digest.entries)} |",
        f"| rerun of `daily` (digest stored) | {again.reused and 'digest reused'}, 0 calls, "
        f"{rerun_s:.2f} s |",
        f"| rerun after a run killed before its digest was stored | {resumed.cached} of "
        f"{resumed.judged} judgements from the cache ({resumed.cached / resumed.judged:.0%} "
        f"hit rate), {resumed.calls} calls, {killed_s:.1f} s |",
        f"| daily run, LLM off (baseline, best of 2) | {local_s:.1f} s |",
        f"| daily run, LLM on, instant local server | {llm_s:.1f} s (+{llm_s - local_s:.1f} s, "
        f"{llm_s / local_s:.2f}×) |",
        f"| daily run, LLM on, 0.5 s per answer, concurrency 4 | {slow_s:.1f} s "
        f"(+{slow_s - local_s:.1f} s, {slow_s / local_s:.2f}×) |",
        "",
    ]


def bench_injection(server: LLMServer, work: Path) -> list[str]:
    store = Store(f"sqlite:///{work / 'inject.sqlite'}")
    profile = prompts.profile_for(load(work / "x.sqlite", "minilm")["profile.description"],
                                  [], [], [])
    bound = max_shift([3.0, 2.0], 2.0)
    neighbour = replace(injection_corpus()[0][1], id="2599.99999")
    lines = []
    for path, about in ((CORPUS, "the screen was written from it"),
                        (HELDOUT, "new wordings, never used to tune the screen")):
        rows, naive_hit, flagged, checked = [], 0, 0, 0
        lifted = {"before": 0, "after": 0}
        for name, honest, attacked in injection_corpus(path):
            finals = []
            for mode, paper in (("honest", honest), ("obedient", attacked)):
                server.mode = mode
                papers = {paper.id: paper, neighbour.id: neighbour}
                scored = [Scored(neighbour.id, 3.0, ""), Scored(paper.id, 2.0, "")]
                user = f"{path.stem}-{mode}-{name}"
                with Client(server.url, "tiny", retries=1, backoff=0) as client:
                    out = rerank(client, store, user, DAY, profile, scored, papers)
                finals.append(next(s.score for s in out.scored if s.paper_id == paper.id))
            # the same answer without the check: the judgement it replaced
            before = store.cached_judgements(user, [(attacked.id, attacked.text_hash)],
                                             prompts.prompt_version(), "tiny", profile.version)
            unchecked = 2.0 + bound * (before[attacked.id].relevance - lift.NEUTRAL) / \
                lift.NEUTRAL if attacked.id in out.checked else finals[1]
            j = out.judgements.get(attacked.id)
            flagged += bool(j.flagged if j else attacked.id in out.suspects)
            checked += attacked.id in out.checked
            naive = f"Interests: {profile.summary}\nPaper: {attacked.title}. {attacked.abstract}"
            with Client(server.url, "tiny", retries=0) as client:
                text = client.chat([{"role": "system", "content": "Rate the paper."},
                                    {"role": "user", "content": naive}], str)[0]
            naive_hit += '"relevance": 10' in text
            lifted["before"] += unchecked > finals[0] + 1e-9
            lifted["after"] += finals[1] > finals[0] + 1e-9
            rows.append(f"| {name} | {finals[0]:.2f} | {unchecked:.2f} | {finals[1]:.2f} | "
                        f"{finals[1] - finals[0]:+.2f} |")
        n = len(rows)
        lines += [
            f"**`tests/{path.name}`** ({n} attacks; {about}):",
            "",
            f"- undefended prompt (raw abstract, no screen, no nonce): the obedient model gave "
            f"relevance 10 to **{naive_hit} of {n}**",
            f"- the screen flagged {flagged} of {n} (instructions screened out; where nothing "
            "usable was left, the paper is demoted by the bound)",
            f"- scored above their honest content: **{lifted['before']} of {n}** without the "
            f"lift check, **{lifted['after']} of {n}** with it ({checked} checked)",
            "",
            "<details><summary>per attack: final score honest → injected, without and with "
            "the lift check</summary>",
            "",
            "| attack | honest | injected, unchecked | injected | change |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "</details>",
            "",
        ]
    server.mode = "honest"
    store.close()
    return [
        "Adversarial abstracts, each judged as honestly written (honest model) and with its "
        "injection (obedient model that follows any instruction it reads). Local score 2.0 "
        f"beside a paper at 3.0, weight 2: the clamp bounds any answer's effect to ±{bound:.2f}. "
        "Unchecked: the final score the injected judgement would give without the lift check "
        "(`llm/lift.py`).",
        "",
        *lines,
    ]


def bench_screen(dump: Path, every: int = 4) -> list[str]:
    n = flagged = 0
    examples = []
    with gzip.open(dump, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % every:
                continue
            r = json.loads(line)
            n += 1
            _, a = prompts.screen(r["abstract"])
            _, b = prompts.screen(r["title"])
            if a or b:
                flagged += 1
                examples.append(r["id"])
    return [f"The screen's false alarms: {flagged} of {n:,} real abstracts (every {every}th "
            f"record of the dump) had a sentence removed ({flagged / n:.3%}), e.g. "
            f"{', '.join(examples[:5])} (papers about prompting LLMs).", ""]


def kept_distill(out: Path) -> list[str]:
    """The block benchmarks/distill.py writes inside this one (its own, longer run): kept
    as it is when this block is rewritten."""
    start, end = f"<!-- {DISTILL}:start -->", f"<!-- {DISTILL}:end -->"
    text = out.read_text() if out.exists() else ""
    if start not in text or end not in text:
        return []
    return [start, *text[text.index(start) + len(start):text.index(end)].strip("\n")
            .split("\n"), end, ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump", type=Path, default=ROOT.parent / "shared" / "data" /
                    "arxiv-cs-2024-2026.jsonl.gz")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    ap.add_argument("--backend", default="minilm-static",
                    help="embedding backend (the layer's cost does not depend on it)")
    args = ap.parse_args()
    inputs.require(ap, args, "dump")
    work = Path(tempfile.mkdtemp(prefix="papersift-llm-bench-"))
    os.environ["XDG_DATA_HOME"] = str(work / "data")
    server = LLMServer().start()
    try:
        t0 = time.perf_counter()
        base, _ = prepare(args.dump, work, args.backend)
        print(f"store ready in {time.perf_counter() - t0:.0f} s", flush=True)
        lines = ["## The LLM layer (`benchmarks/llm.py`)", ""]
        lines += bench_daily(base, args.backend, server)
        print("daily done", flush=True)
        lines += bench_injection(server, work)
        lines += bench_screen(args.dump)
        print("injection done", flush=True)
        lines += kept_distill(args.out)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    sections.write(args.out, {SECTION: lines})
    print("\n".join(lines))


if __name__ == "__main__":
    main()

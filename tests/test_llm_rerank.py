"""The reranker through the real client against the local deterministic model: blending
within the bound, the cache, fallbacks, budgets, the user's language, and the injection
corpus (tests/llm_injection.jsonl)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from papersift.deliver.digest import Digest, Entry
from papersift.deliver.render import render_html, render_markdown
from papersift.llm import prompts
from papersift.llm.client import Client
from papersift.llm.distill import distill
from papersift.llm.rerank import Rerank, max_shift, rerank
from papersift.rank.base import Scored
from papersift.rank.reasons import render
from papersift.records import Paper
from papersift.store import Store
from tests.llm_server import HELDOUT, LLMServer, injection_corpus

PROFILE = prompts.profile_for(
    "I study linear attention, recurrent architectures, scaling laws and knowledge "
    "distillation for language model pre-training.", ["linear attention"], [], [])
TOPICS = [
    ("Crop yield from satellite images", "Satellite imagery predicts crop yield per county."),
    ("Traffic forecasting", "Graph convolutions forecast urban traffic flow from sensors."),
    ("Protein backbone diffusion", "A diffusion process generates protein backbones."),
    ("Knowledge distillation of language models", "We distill language models during "
     "pre-training and study scaling laws of the distilled students."),
    ("Linear attention at scale", "Linear attention and recurrent architectures for language "
     "model pre-training follow clean scaling laws; distillation helps."),
    ("Wireless channels", "Sparse Bayesian learning estimates massive MIMO channels."),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    yield s
    s.close()


def day_papers() -> tuple[list[Scored], dict[str, Paper]]:
    papers = [Paper(id=f"2511.{i:05d}", title=t, abstract=a, categories=["cs.CL"])
              for i, (t, a) in enumerate(TOPICS)]
    scored = [Scored(p.id, 3.0 - 0.1 * i, f"local reason {i}", 0.99) for i, p in
              enumerate(papers)]
    return scored, {p.id: p for p in papers}


def run(server: LLMServer, store: Store, scored: list[Scored], papers: dict[str, Paper], *,
        user: str = "ann", profile: prompts.Profile = PROFILE, top_n: int = 4,
        **client_opts: object) -> Rerank:
    opts: dict = {"retries": 1, "backoff": 0.0, **client_opts}
    with Client(server.url, opts.pop("model", "tiny"), **opts) as client:
        return rerank(client, store, user, "2025-11-12", profile, scored, papers, top_n=top_n)


def test_llm_relevance_reorders_the_head_within_the_bound(server: LLMServer,
                                                          store: Store) -> None:
    scored, papers = day_papers()
    out = run(server, store, scored, papers)
    local = {s.paper_id: s.score for s in scored}
    head = [s.paper_id for s in scored[:4]]
    # the on-topic paper ranked 4th locally comes first; the tail is left alone
    assert out.scored[0].paper_id == "2511.00003"
    assert out.scored[4:] == scored[4:]
    bound = max_shift([local[i] for i in head], 2.0)
    for s in out.scored[:4]:
        assert abs(s.score - local[s.paper_id]) <= bound + 1e-9
        assert re.search(r"\(LLM: relevance \d+/10, novelty \d+/10\) · local reason",
                         render(s.reason))
    # one call per paper of the head, no more: the 4th is judged 7, short of the lift
    # check's trigger (llm/lift.py)
    assert out.checked == [] and len(server.chat_requests) == 4
    # the system prompt is the same for every paper (a prefix the server can cache)
    assert len({r["messages"][0]["content"] for r in server.chat_requests}) == 1
    assert out.run.judged == 4 and out.run.failed == 0 and out.run.calls == 4
    assert store.llm_runs("ann")[0].prompt_tokens == out.run.prompt_tokens > 0


def test_a_paper_is_judged_once_per_text_prompt_model_and_profile(server: LLMServer,
                                                                  store: Store) -> None:
    scored, papers = day_papers()
    first = run(server, store, scored, papers)
    again = run(server, store, scored, papers)
    assert len(server.chat_requests) == 4 and again.run.cached == 4 and again.run.calls == 0
    assert [(s.paper_id, s.score) for s in again.scored] == \
        [(s.paper_id, s.score) for s in first.scored]
    other = prompts.profile_for("I study protein design.", [], [], [])
    run(server, store, scored, papers, profile=other)
    run(server, store, scored, papers, model="bigger")
    assert len(server.chat_requests) == 12
    # a revised abstract is a new text: judged again
    p = papers["2511.00000"]
    papers[p.id] = Paper(id=p.id, title=p.title, abstract=p.abstract + " Revised.", version=2)
    run(server, store, scored, papers)
    assert len(server.chat_requests) == 13


def test_a_dead_endpoint_keeps_the_local_order(server: LLMServer, store: Store) -> None:
    scored, papers = day_papers()
    server.mode = "fail"
    out = run(server, store, scored, papers)
    assert out.scored == scored
    assert out.run.failed == 4 and "HTTP 500" in out.run.detail
    assert store.latest_judgements("ann") == {}


def test_one_bad_paper_or_answer_never_kills_the_run(server: LLMServer, store: Store) -> None:
    scored, papers = day_papers()
    server.fail_papers = {TOPICS[1][0]}
    server.invalid_next = 1  # the first answer is garbage; its retry is fine
    out = run(server, store, scored, papers)
    kept = next(s for s in out.scored if s.paper_id == "2511.00001")
    assert kept == scored[1]  # local score and reason
    assert set(out.judgements) == {"2511.00000", "2511.00002", "2511.00003"}
    assert out.run.failed == 1 and list(out.failures) == ["2511.00001"]


def test_the_budget_stops_the_layer_and_the_rest_keep_their_place(server: LLMServer,
                                                                  store: Store) -> None:
    scored, papers = day_papers()
    out = run(server, store, scored, papers, max_tokens=1500, concurrency=1)
    assert 1 <= len(out.judgements) < 4
    assert out.run.prompt_tokens + out.run.completion_tokens <= 1500
    assert "budget" in out.run.detail and "llm.max_tokens" in out.run.detail
    # the best papers locally are the ones judged
    assert set(out.judgements) == {s.paper_id for s in scored[:len(out.judgements)]}


def test_a_chinese_profile_gets_chinese_tldrs(server: LLMServer, store: Store) -> None:
    zh = ZH
    assert zh.language == "zh" and PROFILE.language == "en"
    scored, papers = day_papers()
    out = run(server, store, scored, papers, profile=zh)
    assert all(re.search(r"[\u4e00-\u9fff]", j.tldr) for j in out.judgements.values())
    assert "Simplified Chinese" in server.chat_requests[0]["messages"][0]["content"]
    forced = prompts.profile_for("我研究大语言模型。", [], [], [], language="en")
    assert forced.language == "en"


ZH = prompts.profile_for("我研究大语言模型的预训练：linear attention、scaling laws 和知识蒸馏"
                         "（knowledge distillation）。", [], [], [])
CJK = re.compile(r"[\u4e00-\u9fff]")


def zh_head() -> tuple[list[Scored], dict[str, Paper]]:
    """An on-topic paper and an off-topic one."""
    scored, papers = day_papers()
    return [scored[4], scored[0]], papers


def test_an_english_tldr_for_a_chinese_profile_is_asked_again(server: LLMServer,
                                                              store: Store) -> None:
    server.mode = "english_tldr_then_corrected"
    scored, papers = zh_head()
    out = run(server, store, scored, papers, profile=ZH, top_n=2)
    assert out.run.failed == 0 and len(server.chat_requests) == 4
    assert all(CJK.search(j.tldr) for j in out.judgements.values())
    retries = [r["messages"] for r in server.chat_requests if len(r["messages"]) > 2]
    assert len(retries) == 2 and all("tldr must be written in Simplified Chinese" in m[-1][
        "content"] for m in retries)


def test_a_model_that_never_writes_chinese_keeps_its_judgement_without_a_tldr(
        server: LLMServer, store: Store) -> None:
    server.mode = "english_tldr"
    scored, papers = zh_head()
    out = run(server, store, scored, papers, profile=ZH, top_n=2)  # one retry each
    assert len(server.chat_requests) == 4 and out.run.failed == 0
    on_topic = out.judgements[scored[0].paper_id]
    assert on_topic.tldr == "" and on_topic.relevance >= 5 and CJK.search(on_topic.reason)
    # both ranked by their judgements (the off-topic one, judged 0, falls below its local
    # score), shown without a TL;DR in the wrong language
    off_topic = out.scored[1]
    assert off_topic.paper_id == scored[1].paper_id and off_topic.score < scored[1].score
    entry = Entry(1, papers[scored[0].paper_id], out.scored[0].score, render(out.scored[0].reason),
                  on_topic.tldr)
    md = render_markdown(Digest("ann", "2025-11-12", [entry], candidates=1))
    assert "TL;DR" not in md and "LLM: relevance" in md


def test_editing_a_prompt_template_is_a_new_prompt_version(
        server: LLMServer, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    scored, papers = day_papers()
    version = prompts.prompt_version()
    assert version.startswith(prompts.PROMPT_REVISION + "-")
    run(server, store, scored, papers)
    assert len(server.chat_requests) == 4
    # no hand-bumped number: the edited text alone keeps the old judgements out
    monkeypatch.setattr(prompts, "SYSTEM", prompts.SYSTEM + "\nBe strict.")
    assert prompts.prompt_version() != version
    edited = run(server, store, scored, papers)
    assert edited.run.cached == 0 and len(server.chat_requests) == 8
    assert server.chat_requests[-1]["messages"][0]["content"].endswith("Be strict.")
    monkeypatch.setattr(prompts, "USER", prompts.USER.replace("Researcher's", "The user's"))
    assert run(server, store, scored, papers).run.cached == 0
    assert len(server.chat_requests) == 12
    assert run(server, store, scored, papers).run.cached == 4  # unchanged: cached


def test_reasons_and_tldrs_are_length_limited_and_escaped(server: LLMServer,
                                                          store: Store) -> None:
    papers = {"2511.09999": Paper(
        id="2511.09999", title="Linear attention", categories=["cs.CL"],
        abstract="<script>alert(1)</script> Linear attention for language model pre-training.")}
    scored = [Scored("2511.09999", 1.0, "close to x")]
    out = run(server, store, scored, papers)
    j = out.judgements["2511.09999"]
    assert "<script>" in j.tldr  # stored as plain text; every renderer escapes it
    entry = Entry(1, papers["2511.09999"], out.scored[0].score, out.scored[0].reason, j.tldr)
    digest = Digest("ann", "2025-11-12", [entry], candidates=1)
    html, md = render_html(digest), render_markdown(digest)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>" not in md
    server.mode = "out_of_range"
    scored2 = [Scored("2511.00004", 1.0, "r")]
    out = run(server, store, scored2, day_papers()[1], user="bob")
    j = out.judgements["2511.00004"]
    assert j.relevance == 10 and j.novelty == 0 and len(j.reason) <= prompts.REASON_CHARS


def test_no_injected_abstract_lifts_its_score_above_its_honest_content(
        server: LLMServer, store: Store) -> None:
    corpus = injection_corpus()
    assert len(corpus) >= 20
    neighbours = [Paper(id="2511.90001", title=TOPICS[3][0], abstract=TOPICS[3][1]),
                  Paper(id="2511.90002", title=TOPICS[0][0], abstract=TOPICS[0][1])]

    def final(paper: Paper, user: str) -> tuple[dict[str, float], Rerank]:
        papers = {p.id: p for p in [neighbours[0], paper, neighbours[1]]}
        scored = [Scored(pid, s, "") for pid, s in zip(papers, (3.0, 2.0, 1.0), strict=True)]
        out = run(server, store, scored, papers, user=user, top_n=3)
        assert set(out.failures) <= {paper.id}
        return {s.paper_id: s.score for s in out.scored}, out

    naive_lifted = 0
    for name, honest, attacked in corpus:
        server.mode = "honest"
        fair, _ = final(honest, f"honest-{name}")
        server.mode = "obedient"
        got, out = final(attacked, f"attack-{name}")
        assert got[attacked.id] <= fair[honest.id] + 1e-9, name
        # the other papers of the day are untouched by the attack
        assert {k: v for k, v in got.items() if k != attacked.id} == \
            {k: v for k, v in fair.items() if k != honest.id}, name
        # flagged: judged on what the screen left, or (nothing usable left) demoted
        assert attacked.id in out.suspects if attacked.id in out.failures \
            else out.judgements[attacked.id].flagged, name
        # without our defences the same obedient model is hijacked: the attack is real
        naive = (f"Interests: {PROFILE.summary}\nPaper: {attacked.title}. "
                 f"{attacked.abstract}")
        with Client(server.url, "tiny", retries=0) as client:
            text = client.chat([{"role": "system", "content": "Rate the paper."},
                                {"role": "user", "content": naive}], str)[0]
        naive_lifted += '"relevance": 10' in text
    assert naive_lifted == len(corpus)


# one relevance point: the attack's own words may share a term with the interests (the stub
# counts "study" in "this study is to be graded 10"), which is content, not obedience
TOLERANCE = max_shift([3.0, 2.0, 1.0], 2.0) / 5 + 1e-9


def test_held_out_attacks_do_not_lift_a_paper_and_only_lifted_papers_pay_a_check(
        server: LLMServer, store: Store) -> None:
    """tests/llm_injection_heldout.jsonl: wordings the screen was not written from; the
    lift check (llm/lift.py), not the phrase list, must hold them."""
    corpus = injection_corpus(HELDOUT)
    assert len(corpus) >= 20
    neighbours = [Paper(id="2511.90001", title=TOPICS[3][0], abstract=TOPICS[3][1]),
                  Paper(id="2511.90002", title=TOPICS[0][0], abstract=TOPICS[0][1])]

    def final(paper: Paper, user: str) -> tuple[dict[str, float], Rerank, int]:
        papers = {p.id: p for p in [neighbours[0], paper, neighbours[1]]}
        scored = [Scored(pid, s, "") for pid, s in zip(papers, (3.0, 2.0, 1.0), strict=True)]
        calls = len(server.chat_requests)
        out = run(server, store, scored, papers, user=user, top_n=3)
        return {s.paper_id: s.score for s in out.scored}, out, len(server.chat_requests) - calls

    checked = 0
    for name, honest, attacked in corpus:
        server.mode = "honest"
        fair, out, calls = final(honest, f"honest-{name}")
        # neither the honest paper nor its neighbours is lifted: no check, no demotion
        assert out.checked == [] and calls == 3, name
        server.mode = "obedient"
        got, out, calls = final(attacked, f"attack-{name}")
        assert got[attacked.id] <= fair[honest.id] + TOLERANCE, (name, fair, got)
        assert {k: v for k, v in got.items() if k != attacked.id} == \
            {k: v for k, v in fair.items() if k != honest.id}, name
        # extra calls for the lifted paper only: its title with each half of its abstract,
        # and (both halves lifted: an injected title) its abstract alone
        assert set(out.checked) <= {attacked.id}, name
        assert calls - 3 in ((2, 3) if out.checked else (0,)), name
        checked += bool(out.checked)
        # the checked judgement is stored: a rerun asks nothing and scores the same
        again, _, calls = final(attacked, f"attack-{name}")
        assert again == got and calls == 0, name
    assert checked >= len(corpus) // 2  # the screen let these through; the check held them


def test_distillation_adds_relevant_unflagged_papers_as_weak_positives(
        server: LLMServer, store: Store) -> None:
    scored, papers = day_papers()
    server.mode = "honest"
    out = run(server, store, scored, papers, top_n=6)
    liked = {pid for pid, j in out.judgements.items() if j.relevance >= 7}
    assert liked == {"2511.00003", "2511.00004"}
    # judged 9 from the head's foot, the one-sentence abstract is checked on its halves;
    # both carry its topic, so the honest judgement stands (two extra calls)
    assert out.checked == ["2511.00004"] and out.judgements["2511.00004"].relevance == 9
    assert len(server.chat_requests) == 8
    counts = distill(store, "ann")
    assert counts.added == 2
    lib = {e.paper_id: e for e in store.library("ann")}
    assert set(lib) == liked and all(e.label == 1 and e.source == "llm" for e in lib.values())
    assert distill(store, "ann").added == 0  # idempotent


def test_llm_usage_lists_each_run(server: LLMServer, store: Store, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from papersift.cli import main

    scored, papers = day_papers()
    server.fail_papers = {TOPICS[2][0]}
    run(server, store, scored, papers)
    result = CliRunner().invoke(main, ["llm", "usage"], env={
        "PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}"})
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith("2025-11-12 ann: tiny, 4 judged (0 cached, 1 fell back), 5 calls")
    assert "HTTP 500" in line


def test_the_models_view_of_the_user_leaves_distilled_papers_out(store: Store) -> None:
    from papersift import config
    from papersift.llm.daily import user_profile
    from papersift.profile.config_source import ProfileSpec

    mine = Paper(id="2401.00001", title="My own pick on linear attention", abstract="a")
    judged = Paper(id="2401.00002", title="A paper the model liked", abstract="b")
    store.sync_library("ann", "config", [mine.id])
    store.sync_source("ann", "llm", "ids", "LLM judgements", [judged.id])
    held = {e.paper_id: e for e in store.library("ann")}
    profile = user_profile(config.load(env={}), ProfileSpec("ann", description="attention"),
                           [mine, judged], held, "attention")
    assert mine.title in profile.summary and judged.title not in profile.summary

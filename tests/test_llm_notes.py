"""Notes longer than the prompt's budget: summarised by the LLM once per notes content and
reused; when that fails, their most central sentences, whole and in order — never a cut
in mid-sentence. Against the local deterministic model (tests/llm_server.py)."""

from __future__ import annotations

import re
from dataclasses import replace

from papersift import config
from papersift.jobs import daily
from papersift.llm import prompts
from papersift.rank.embed import MiniLM
from papersift.store import Store
from tests.conftest import DEMO_DAY
from tests.llm_server import LLMServer
from tests.test_llm_daily import with_llm

ON_TOPIC = [
    "I study how large language models train, and which training recipes still hold when "
    "the models and the data grow by orders of magnitude.",
    "Learning-rate schedules, warmup and batch-size scaling laws decide most of my "
    "pre-training runs, so papers that fit scaling laws to them matter to me.",
    "I follow distributed training of language models: pipeline, tensor and data "
    "parallelism, and communication-efficient optimizers for large clusters.",
    "Linear attention and recurrent architectures such as state space models interest me "
    "as replacements for softmax attention in long-context language models.",
    "Knowledge distillation from large teacher language models into small students is a "
    "recurring theme of my notes and of my own training experiments.",
    "I track emergent abilities of large language models and whether evaluation metrics "
    "make them appear or vanish as models scale.",
    "Pre-training data curation, deduplication and quality filtering of web text matter "
    "for every language model I train, and I read every paper on data mixtures.",
    "Mixture-of-experts language models and their routing, load balancing and training "
    "stability come up in my notes again and again.",
    "Low-precision training of language models in FP8 and the optimizers that keep such "
    "training stable at scale are on my reading list.",
    "I want papers that measure how training compute should be split between model size "
    "and data, and how those scaling laws change with data quality.",
    "Long-context training of language models, position encodings and attention variants "
    "that extrapolate beyond the training length are close to my work.",
    "Curriculum and data ordering during language model pre-training, and their effect on "
    "loss spikes and training stability, keep coming back in my notes.",
    "Efficient fine-tuning after pre-training, such as low-rank adapters for large language "
    "models, matters when I compare training recipes.",
    "I keep notes on optimizer research for language model training: Adam variants, "
    "second-order methods and their scaling behaviour.",
    "Reproducible training pipelines and open training logs of large language models help "
    "me check what really drives training efficiency.",
    "Small language models trained on curated data, and what their scaling laws say about "
    "larger ones, are a topic I read about every week.",
    "Attention kernels and memory-efficient training tricks for language models, such as "
    "activation checkpointing, matter for my training budget.",
    "Papers that study the training dynamics of language models, from loss curves to "
    "representation changes during pre-training, are what I read first.",
]
OFF_TOPIC = [
    "Remember to renew the parking permit at the university office before the first week "
    "of March, and bring the old card and a passport photo along.",
    "The cafeteria on the third floor of the east building now closes at two on Fridays, "
    "so lunch on Fridays has to move to the place across the street.",
]
NOTES = " ".join(ON_TOPIC[:9] + OFF_TOPIC[:1] + ON_TOPIC[9:] + OFF_TOPIC[1:])
INTERESTS = "Interests, in the user's words: "


def with_notes(settings: config.Settings, notes: str) -> config.Settings:
    return replace(settings, values={**settings.values,
                                     "profile": {**settings.values["profile"],
                                                 "description": notes}})


def interests(request: dict) -> str:
    """What a judgement request told the model of the user's own words (up to their
    keywords, authors or liked papers, on the same line)."""
    line = request["messages"][1]["content"].split(INTERESTS, 1)[1].split("\n", 1)[0]
    return re.split(r" (?:Keywords|Followed authors|Papers the user recently liked): ",
                    line)[0]


def test_the_extractive_summary_keeps_whole_central_sentences_in_order() -> None:
    assert len(NOTES) > prompts.PROFILE_CHARS
    out = prompts.extractive(NOTES)
    assert len(out) <= prompts.PROFILE_CHARS
    kept = prompts.sentences(out)
    assert set(kept) <= set(ON_TOPIC)  # whole sentences; the digressions are left out
    assert kept == [s for s in ON_TOPIC if s in kept]  # in their original order
    assert len(kept) >= 12
    # Chinese notes: sentences end with 。, and no sentence is cut
    zh = "".join(f"我关注大语言模型的训练与扩展规律，第{i}条笔记记录了学习率与批量大小的实验。"
                 for i in range(60)) + "周五食堂提前关门。"
    out = prompts.extractive(zh, 500)
    assert len(out) <= 500 and out.endswith("。") and "食堂" not in out


def test_long_notes_are_summarised_once_and_the_summary_is_reused(
        demo_settings: config.Settings, embedder: MiniLM, server: LLMServer) -> None:
    settings = with_llm(with_notes(demo_settings, NOTES), base_url=server.url, model="tiny")
    result = daily(settings, DEMO_DAY, embedder=embedder, send=False)
    assert result.digest.entries and not result.warnings
    (asked,) = server.summary_requests
    assert asked["messages"][1]["content"] == NOTES  # the notes as the user wrote them
    judged = [r for r in server.chat_requests if r is not asked]
    summary = interests(judged[0])
    assert len(summary) <= prompts.PROFILE_CHARS and summary.endswith(".")
    assert all(interests(r) == summary for r in judged)
    # the next day: the stored summary, no call for it
    daily(settings, "2025-11-13", embedder=embedder, send=False)
    assert len(server.summary_requests) == 1
    assert interests(server.chat_requests[-1]) == summary
    store = Store(settings.store_url)
    try:
        first = store.llm_runs("default")[-1]
    finally:
        store.close()
    assert first.calls == len(judged) + 1  # the run's record counts the summary's call


def test_a_failing_summary_call_falls_back_to_the_central_sentences(
        demo_settings: config.Settings, embedder: MiniLM, server: LLMServer) -> None:
    server.fail_summary = True
    settings = with_llm(with_notes(demo_settings, NOTES), base_url=server.url, model="tiny",
                        retries=0)
    result = daily(settings, DEMO_DAY, embedder=embedder, send=False)
    assert result.digest.entries and all(e.tldr for e in result.digest.entries)
    assert [w for w in result.warnings if "could not be summarised" in w] == [
        f"LLM: your notes ({len(NOTES):,} characters) could not be summarised (tiny at "
        f"{server.url}: HTTP 500 after 1 tries); their most central sentences stand in"]
    judged = [r for r in server.chat_requests if r not in server.summary_requests]
    assert judged and all(interests(r) == prompts.extractive(NOTES) for r in judged)
    assert not any(s in interests(judged[0]) for s in OFF_TOPIC)

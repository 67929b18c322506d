"""`papersift llm …`: check the endpoint and see what the LLM layer cost."""

from __future__ import annotations

import click

from papersift.cli import _settings, console, main
from papersift.llm import prompts
from papersift.llm.client import Client
from papersift.records import Paper
from papersift.store import Store

# A real abstract (arXiv:1706.03762) makes the check a real judgement, not a ping.
SAMPLE = Paper(id="1706.03762", title="Attention Is All You Need", abstract=(
    "The dominant sequence transduction models are based on complex recurrent or "
    "convolutional neural networks in an encoder-decoder configuration. We propose a new "
    "simple network architecture, the Transformer, based solely on attention mechanisms, "
    "dispensing with recurrence and convolutions entirely."), authors=["Ashish Vaswani"],
    categories=["cs.CL"])


@main.group()
def llm() -> None:
    """The optional LLM layer (config section [llm])."""


@llm.command("test")
@click.pass_context
def llm_test(ctx: click.Context) -> None:
    """Ask the endpoint for one judgement; print model, latency, tokens and cost."""
    settings = _settings(ctx)
    profile = prompts.profile_for(settings["profile.description"] or
                                  "Efficient sequence models.", settings["profile.keywords"],
                                  settings["profile.authors"], [], settings["llm.language"])
    prompt = prompts.build(profile, SAMPLE)
    with Client.from_settings(settings) as client:
        answer, reply = client.chat(prompt.messages, prompts.parser(prompt.nonce))
        console.print(f"model: {reply.model} at {settings['llm.base_url']}")
        console.print(f"latency: {reply.seconds:.2f} s")
        console.print(f"tokens: {reply.prompt_tokens} prompt + {reply.completion_tokens} "
                      f"answer; cost {reply.cost:.6f} (llm.price_input/price_output per "
                      "million)")
        console.print(f"answer: relevance {answer.relevance:g}/10, novelty "
                      f"{answer.novelty:g}/10 ({profile.language})")
        console.print(f"TL;DR: {answer.tldr}")
        if settings["llm.embedding_model"]:
            vecs = client.embed([SAMPLE.title], settings["llm.embedding_model"])
            console.print(f"embeddings: {settings['llm.embedding_model']}, "
                          f"{vecs.shape[1]} dimensions")
    console.print(f"ok: {client.usage.calls} call(s)")


@llm.command("usage")
@click.option("--user", default=None, help="Only this user.")
@click.option("--limit", default=20, show_default=True)
@click.pass_context
def llm_usage(ctx: click.Context, user: str | None, limit: int) -> None:
    """What the LLM layer did in recent daily runs: calls, tokens, cost, cache hits."""
    store = Store(_settings(ctx).store_url)
    try:
        runs = store.llm_runs(user, limit)
    finally:
        store.close()
    if not runs:
        console.print("no LLM runs yet (set llm.enabled = true)")
    for r in runs:
        console.print(f"{r.day} {r.user}: {r.model}, {r.judged} judged ({r.cached} cached, "
                      f"{r.failed} fell back), {r.calls} calls, "
                      f"{r.prompt_tokens + r.completion_tokens} tokens, cost {r.cost:.4f}, "
                      f"{r.seconds:.1f} s" + (f" — {r.detail}" if r.detail else ""))

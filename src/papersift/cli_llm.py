"""`papersift llm …`: check the endpoint and see what the LLM layer cost."""

from __future__ import annotations

import click

from papersift.cli import _settings, console, main
from papersift.llm import prompts
from papersift.llm.client import Client, InvalidAnswer, LLMError
from papersift.profile.user import known_user, user_spec
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
@click.option("--user", default=None, help="Check for this user's profile (default: "
              "profile.user).")
@click.pass_context
def llm_test(ctx: click.Context, user: str | None) -> None:
    """Ask the endpoint for one judgement as the daily run does for your profile: print
    model, latency, tokens and cost, whether the answer parsed and whether its TL;DR came
    back in your language (exit status 1 if not)."""
    settings = _settings(ctx)
    store = Store(settings.store_url)
    try:
        spec = user_spec(settings, store, known_user(settings, store, user))
    finally:
        store.close()
    # the daily run's profile, with the notes' extractive summary (no summary call here)
    profile = prompts.profile_for(spec.description or "Efficient sequence models.",
                                  spec.keywords, spec.authors, [], settings["llm.language"])
    prompt = prompts.build(profile, SAMPLE)
    judge = prompts.parser(prompt.nonce, profile.language)
    flaws: list[str] = []  # what was wrong with each answer that did not parse

    def parse(content: str) -> prompts.Answer:
        try:
            return judge(content)
        except InvalidAnswer as e:
            flaws.append(f"{e} (answer began {content[:80]!r})")
            raise

    language = prompts.LANGUAGES[profile.language]
    with Client.from_settings(settings) as client:
        try:
            answer, reply = client.chat(prompt.messages, parse)
        except LLMError:
            if flaws:  # answers came, none usable: say what they were, then fail
                console.print(f"model: {client.model} at {settings['llm.base_url']}")
                _usage(client)
                console.print(f"answer: did not parse after {len(flaws)} tries: {flaws[-1]}")
            raise
        console.print(f"model: {reply.model} at {settings['llm.base_url']}")
        console.print(f"latency: {reply.seconds:.2f} s")
        _usage(client)
        answers = len(flaws) + bool(answer.tldr)  # a dropped TL;DR: its last flawed answer
        tries = f"after {answers} tries" if answers > 1 else "first try"
        console.print(f"answer: parsed ({tries}): relevance {answer.relevance:g}/10, "
                      f"novelty {answer.novelty:g}/10")
        if not answer.tldr:
            console.print(f"TL;DR: not in {language} ({flaws[-1]})")
            raise LLMError(f"{client.model} did not write its TL;DR in {language} in "
                           f"{len(flaws)} tries, so digests would show none: use a model "
                           "that does, or set llm.language")
        console.print(f"TL;DR in {language}: yes — {answer.tldr}")
        if settings["llm.embedding_model"]:
            vecs = client.embed([SAMPLE.title], settings["llm.embedding_model"])
            console.print(f"embeddings: {settings['llm.embedding_model']}, "
                          f"{vecs.shape[1]} dimensions")
    console.print(f"ok: {client.usage.calls} call(s)")


def _usage(client: Client) -> None:
    u = client.usage
    console.print(f"tokens: {u.prompt_tokens} prompt + {u.completion_tokens} answer in "
                  f"{u.calls} call(s); cost {u.cost:.6f} (llm.price_input/price_output per "
                  "million)")


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

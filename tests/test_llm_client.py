"""The OpenAI-compatible client against a real local server: protocol, retries, timeouts,
budgets, concurrency, secrets. Never a mock of the client."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from papersift import config
from papersift.cli import main
from papersift.llm import prompts
from papersift.llm.client import (
    BudgetExceeded,
    Client,
    InvalidAnswer,
    LLMError,
    api_key,
    estimate_tokens,
)
from papersift.records import Paper
from tests.llm_server import LLMServer

PROFILE = prompts.profile_for("I study linear attention, recurrent architectures and scaling "
                              "laws of language model pre-training.", ["linear attention"],
                              [], [])
PAPER = Paper(id="2501.00001", title="Scaling laws of linear attention language models",
              abstract="We measure scaling laws for linear attention and recurrent language "
                       "models during pre-training. A new chunked kernel is introduced.",
              authors=["A. Author"], categories=["cs.CL"])


def ask(client: Client) -> prompts.Answer:
    prompt = prompts.build(PROFILE, PAPER)
    return client.chat(prompt.messages, prompts.parser(prompt.nonce))[0]


def test_protocol_bearer_key_json_mode_and_usage(server: LLMServer) -> None:
    server.key = "sk-test-123"
    with Client(server.url, "judge-model", key="sk-test-123", price_input=2.0,
                price_output=8.0) as client:
        answer = ask(client)
    body, headers = server.requests[0], server.headers[0]
    assert headers["Authorization"] == "Bearer sk-test-123"
    assert body["model"] == "judge-model" and body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert answer.relevance >= 5 and answer.tldr.startswith("We measure scaling laws")
    u = client.usage
    assert u.calls == 1 and u.prompt_tokens > 100 and u.completion_tokens > 10
    assert u.cost == pytest.approx((u.prompt_tokens * 2 + u.completion_tokens * 8) / 1e6)


def test_server_errors_and_invalid_answers_are_retried_with_backoff(server: LLMServer) -> None:
    waits: list[float] = []
    server.fail_next, server.invalid_next = 1, 1
    with Client(server.url, "m", retries=2, backoff=0.5, sleep=waits.append) as client:
        assert ask(client).relevance > 0
    assert len(server.requests) == 3 and waits == [0.5, 1.0]


def test_rate_limit_honours_retry_after_then_gives_up_with_a_clear_error(
        server: LLMServer) -> None:
    server.mode = "rate_limit"
    with Client(server.url, "m", retries=1, backoff=0, sleep=lambda _: None) as client, \
            pytest.raises(LLMError, match=r"HTTP 429 after 2 tries"):
        ask(client)


def test_a_slow_model_times_out_within_the_limit(server: LLMServer) -> None:
    server.delay = 2.0
    start = time.perf_counter()
    with Client(server.url, "m", timeout=0.3, retries=1, backoff=0) as client, \
            pytest.raises(LLMError, match="timed out .*llm.timeout"):
        ask(client)
    assert time.perf_counter() - start < 1.5


def test_wrong_key_is_not_retried_and_never_printed(server: LLMServer) -> None:
    server.key = "right"
    with Client(server.url, "m", key="sk-secret-wrong", retries=3) as client, \
            pytest.raises(LLMError) as e:
        ask(client)
    assert len(server.requests) == 1
    assert "HTTP 401" in str(e.value) and "api_key" in str(e.value)
    assert "sk-secret-wrong" not in str(e.value)


def test_invalid_json_schema_and_unbound_answers_fail_after_retries(server: LLMServer) -> None:
    for mode, why in (("invalid", "no JSON object"),
                      ("bad_schema", "relevance must be a number")):
        server.mode = mode
        with Client(server.url, "m", retries=1, backoff=0) as client, \
                pytest.raises(LLMError, match=why):
            ask(client)
    # an answer for another request (wrong nonce) is rejected
    server.mode = "honest"
    prompt = prompts.build(PROFILE, PAPER)
    with Client(server.url, "m", retries=0) as client, pytest.raises(LLMError, match="ref"):
        client.chat(prompt.messages, prompts.parser("0123456789ab"))


def test_an_invalid_answer_is_asked_again_with_what_was_wrong(server: LLMServer) -> None:
    # a deterministic model asked the same question again repeats its bad answer
    server.mode = "always_invalid_then_corrected"
    with Client(server.url, "m", retries=1, backoff=0, max_tokens=5000) as client:
        answer = ask(client)
        assert client.budget.reserved_tokens == 0
    assert answer.relevance >= 5
    first, second = server.chat_requests
    assert second["messages"][:2] == first["messages"]
    bad, correction = second["messages"][2:]
    assert bad == {"role": "assistant", "content": "Sure! Here is my rating."}
    assert correction["role"] == "user" and correction["content"] == (
        "Your answer was not valid: no JSON object in the answer; reply with the JSON "
        "object only.")
    # both calls are paid for, the longer second prompt as the server counted it
    assert client.usage.calls == 2
    assert client.usage.prompt_tokens == sum(
        math.ceil(sum(len(m["content"]) for m in r["messages"]) / 4)
        for r in server.chat_requests)


def test_a_reasoning_models_think_block_and_chatter_are_skipped(server: LLMServer) -> None:
    server.mode = "think"
    prompt = prompts.build(PROFILE, PAPER)
    with Client(server.url, "m", retries=0) as client:
        answer, reply = client.chat(prompt.messages, prompts.parser(prompt.nonce))
    # the draft in the think block carries a wrong ref; the answer after it is taken
    assert reply.content.startswith("<think>") and '"ref": "draft"' in reply.content
    assert answer.relevance >= 5 and answer.tldr.startswith("We measure scaling laws")


def test_think_blocks_opened_by_the_template_or_cut_short() -> None:
    parse = prompts.parser("abc123")
    good = '{"ref": "abc123", "relevance": 7, "novelty": 3, "reason": "r", "tldr": "t"}'
    # the chat template opened the block: only its end is in the answer
    assert parse(f'I should answer {{"ref": "x"}}.\n</think>\n{good}').relevance == 7
    assert parse(f"<THINK>hmm</THINK>Answer: {good} (done)").relevance == 7
    for bad in (f"<think>the answer will be {good} once I", "Relevance 7, novelty 3.", "[]"):
        with pytest.raises(InvalidAnswer, match="no JSON object"):
            parse(bad)


def test_a_tldr_in_the_wrong_language_is_invalid_but_keeps_its_judgement() -> None:
    def answer(tldr: str) -> str:
        return json.dumps({"ref": "abc123", "relevance": 7, "novelty": 3, "reason": "r",
                           "tldr": tldr}, ensure_ascii=False)

    zh, en = prompts.parser("abc123", "zh"), prompts.parser("abc123", "en")
    # an English title quoted in a Chinese TL;DR is Chinese; a Chinese term in English is not
    quoted = "本文提出 Mamba-2: Transformers are SSMs: Generalized Models and Efficient Algorithms."
    assert zh(answer(quoted)).tldr == quoted
    assert en(answer("We extend 线性注意力 to long documents.")).relevance == 7
    for parse, tldr, language in ((zh, "We extend linear attention.", "Simplified Chinese"),
                                  (en, "本文将线性注意力扩展到长文档。", "English")):
        with pytest.raises(InvalidAnswer, match=f"tldr must be written in {language}") as e:
            parse(answer(tldr))
        assert e.value.usable == prompts.Answer(7.0, 3.0, "r", "")
    # without a language (papersift llm test) any TL;DR will do
    assert prompts.parser("abc123")(answer("We extend linear attention.")).relevance == 7


def test_a_judgement_whose_tldr_stays_in_the_wrong_language_is_kept_without_it(
        server: LLMServer) -> None:
    server.mode = "english_tldr"  # never writes the TL;DR in Chinese
    zh = prompts.profile_for("我研究线性注意力（linear attention）和预训练的 scaling laws。", [],
                             [], [])
    prompt = prompts.build(zh, PAPER)
    parse = prompts.parser(prompt.nonce, zh.language)
    with Client(server.url, "m", retries=1, backoff=0) as client:
        answer, _ = client.chat(prompt.messages, parse)
    assert len(server.chat_requests) == 2 and answer.tldr == "" and answer.relevance >= 3
    # a retry the budget cannot pay for keeps the answer already paid for
    first = sum(estimate_tokens(m["content"]) for m in prompt.messages) + 400
    with Client(server.url, "m", retries=1, backoff=0, max_tokens=first) as client:
        answer, _ = client.chat(prompt.messages, parse)
    assert len(server.chat_requests) == 3 and answer.tldr == "" and answer.relevance >= 3


@pytest.mark.parametrize(("mode", "param"), [("reject_response_format", "response_format"),
                                             ("reject_temperature", "temperature"),
                                             ("wants_max_completion_tokens", "max_tokens")])
def test_a_refused_parameter_is_left_out_for_the_rest_of_the_run(
        server: LLMServer, caplog: pytest.LogCaptureFixture, mode: str, param: str) -> None:
    server.mode = mode
    with caplog.at_level(logging.WARNING), Client(server.url, "m", retries=0) as client:
        ask(client)
        ask(client)
    refused, *later = server.chat_requests
    assert param in refused and all(param not in r for r in later) and len(later) == 2
    assert all(r["max_completion_tokens"] == 400 for r in later) \
        if param == "max_tokens" else all(r["max_tokens"] == 400 for r in later)
    assert client.usage.calls == 3
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and f"refuses {param} (HTTP 400)" in warnings[0]


def test_json_mode_and_the_limits_name_are_settings(server: LLMServer) -> None:
    server.mode = "wants_max_completion_tokens"
    env = {"PAPERSIFT_LLM_BASE_URL": server.url, "PAPERSIFT_LLM_JSON_MODE": "false",
           "PAPERSIFT_LLM_MAX_TOKENS_FIELD": "max_completion_tokens"}
    with Client.from_settings(config.load(env=env)) as client:
        ask(client)
    (body,) = server.chat_requests
    assert "response_format" not in body and "max_tokens" not in body
    assert body["max_completion_tokens"] == 400
    bad = config.load(env={**env, "PAPERSIFT_LLM_MAX_TOKENS_FIELD": "max_length"})
    with pytest.raises(LLMError, match="llm.max_tokens_field must be max_tokens or "
                                       "max_completion_tokens, got 'max_length'"):
        Client.from_settings(bad)


@pytest.mark.parametrize("mode", ["no_usage", "odd_usage"])
def test_an_answer_without_usage_is_counted_by_the_upper_estimate(
        server: LLMServer, mode: str) -> None:
    """Not crashing, and not undercounting: the budget must hold for Chinese text too."""
    server.mode = mode
    prompt = prompts.build(PROFILE, PAPER)
    with Client(server.url, "m", price_input=1.0, price_output=1.0) as client:
        _, reply = client.chat(prompt.messages, prompts.parser(prompt.nonce))
    assert (reply.prompt_tokens, reply.completion_tokens) == \
        (sum(estimate_tokens(m["content"]) for m in prompt.messages),
         estimate_tokens(reply.content))
    assert estimate_tokens("本文提出一种新的线性注意力") >= 13  # a token per character
    assert client.usage.tokens == reply.prompt_tokens + reply.completion_tokens > 100
    assert client.usage.cost == pytest.approx(client.usage.tokens / 1e6)


def test_out_of_range_scores_are_clamped_and_text_length_limited(server: LLMServer) -> None:
    server.mode = "out_of_range"
    with Client(server.url, "m") as client:
        answer = ask(client)
    assert (answer.relevance, answer.novelty) == (10.0, 0.0)
    assert len(answer.reason) == prompts.REASON_CHARS and answer.reason.endswith("…")


def test_token_and_cost_budgets_stop_calls_before_they_are_made(server: LLMServer) -> None:
    with Client(server.url, "m", max_tokens=1500) as client:
        ask(client)
        spent = client.usage.tokens
        with pytest.raises(BudgetExceeded, match="llm.max_tokens"):
            for _ in range(10):
                ask(client)
        assert client.usage.tokens <= 1500 and client.usage.tokens > spent
    calls = len(server.requests)
    with Client(server.url, "m", price_input=1000.0, price_output=1000.0,
                max_cost=3.0) as client, pytest.raises(BudgetExceeded, match="llm.max_cost"):
        for _ in range(10):
            ask(client)
    assert client.usage.cost <= 3.0 and len(server.requests) >= calls + 2


def test_concurrency_limit_holds(server: LLMServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    server.delay = 0.2
    with Client(server.url, "m", concurrency=2) as client, ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: ask(client), range(6)))
    assert server.max_in_flight == 2 and len(server.requests) == 6


def test_embeddings(server: LLMServer) -> None:
    with Client(server.url, "m") as client:
        vecs = client.embed(["linear attention", "protein folding", "attention linear"], "e")
    assert vecs.shape == (3, 16)
    assert vecs[0] @ vecs[2] == pytest.approx(1.0) and vecs[0] @ vecs[1] < 0.5


@pytest.mark.parametrize("mode", ["honest", "no_usage"])
def test_embeddings_are_counted_and_reserved_in_the_token_budget(server: LLMServer,
                                                                 mode: str) -> None:
    server.mode = mode
    texts = ["linear attention", "本文提出一种新的线性注意力"]
    with Client(server.url, "m", price_input=1.0, max_tokens=60) as client:
        client.embed(texts, "e")
        counted = client.usage.prompt_tokens
        # the server's count, else the upper estimate (a token per Chinese character)
        assert counted == (sum(math.ceil(len(t) / 4) for t in texts) if mode == "honest"
                           else sum(estimate_tokens(t) for t in texts))
        assert client.usage.cost == pytest.approx(counted / 1e6)
        sent = len(server.requests)
        # reserved before sending: a batch that could overrun the budget is never sent
        with pytest.raises(BudgetExceeded, match="llm.max_tokens"):
            client.embed(["protein folding " * 40], "e")
        assert len(server.requests) == sent and client.budget.reserved_tokens == 0


def test_api_key_from_env_or_a_private_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    key_file.chmod(0o644)
    s = config.load(env={"PAPERSIFT_LLM_API_KEY_FILE": str(key_file)})
    with pytest.raises(LLMError, match="chmod 600"):
        api_key(s, env={})
    key_file.chmod(0o600)
    assert api_key(s, env={}) == "sk-from-file"
    assert api_key(s, env={"PAPERSIFT_LLM_API_KEY": "sk-env"}) == "sk-env"


def test_cli_llm_test_prints_model_latency_tokens_and_cost(server: LLMServer) -> None:
    env = {"PAPERSIFT_LLM_BASE_URL": server.url, "PAPERSIFT_LLM_MODEL": "tiny-judge",
           "PAPERSIFT_LLM_PRICE_INPUT": "1.5", "PAPERSIFT_LLM_EMBEDDING_MODEL": "tiny-embed"}
    result = CliRunner().invoke(main, ["llm", "test"], env=env)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "model: tiny-judge" in out and "latency:" in out and "prompt +" in out
    assert "cost 0.000" in out and "embeddings: tiny-embed, 16 dimensions" in out
    server.mode = "fail"
    result = CliRunner().invoke(main, ["llm", "test"], env={**env, "PAPERSIFT_LLM_RETRIES": "0"})
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "HTTP 500" in result.output


def test_cli_llm_test_checks_the_answer_as_the_daily_run_does_for_a_chinese_profile(
        server: LLMServer) -> None:
    env = {"PAPERSIFT_LLM_BASE_URL": server.url, "PAPERSIFT_LLM_MODEL": "tiny-judge",
           "PAPERSIFT_LLM_BACKOFF": "0",
           "PAPERSIFT_PROFILE_DESCRIPTION": "我研究高效的序列模型，例如线性注意力和状态空间模型。"}
    result = CliRunner().invoke(main, ["llm", "test"], env=env)
    assert result.exit_code == 0, result.output
    assert "Simplified Chinese" in server.chat_requests[0]["messages"][0]["content"]
    assert "answer: parsed (first try): relevance" in result.output
    assert "TL;DR in Simplified Chinese (简体中文): yes — 本文" in result.output
    # a model that keeps answering in English: the judgement parses, its TL;DR would be lost
    server.mode = "english_tldr"
    result = CliRunner().invoke(main, ["llm", "test"], env=env)
    assert result.exit_code == 1
    assert "answer: parsed (after 3 tries)" in result.output
    assert "TL;DR: not in Simplified Chinese" in result.output
    assert "error: tiny-judge did not write its TL;DR in Simplified Chinese (简体中文) in 3 " \
        "tries" in result.output and "llm.language" in result.output
    # answers that never parse: model, tokens and the flaw, then the error
    server.mode = "invalid"
    result = CliRunner().invoke(main, ["llm", "test"], env=env)
    assert result.exit_code == 1
    assert "model: tiny-judge" in result.output and "in 3 call(s)" in result.output
    assert "answer: did not parse after 3 tries: no JSON object in the answer" in result.output


def test_cli_llm_test_names_an_unreachable_endpoint() -> None:
    env = {"PAPERSIFT_LLM_BASE_URL": "http://127.0.0.1:9/v1", "PAPERSIFT_LLM_RETRIES": "0"}
    result = CliRunner().invoke(main, ["llm", "test"], env=env)
    assert result.exit_code == 1 and "llm.base_url" in result.output
    assert os.environ.get("PAPERSIFT_LLM_API_KEY") is None


def test_llm_config_is_off_by_default_and_checked(tmp_path: Path) -> None:
    s = config.load(env={})
    assert s["llm.enabled"] is False and s["llm.top_n"] == 30
    assert "[llm]" in config.render_template() and "api_key_file" in config.render_template()
    with pytest.raises(config.ConfigError, match=r"llm\.weight must be between 0 and 10"):
        config.load(env={"PAPERSIFT_LLM_WEIGHT": "50"})
    bad = tmp_path / "c.toml"
    bad.write_text("[llm]\nmodle = 'x'\n")
    with pytest.raises(config.ConfigError, match=r"did you mean 'model'"):
        config.load(bad, env={})

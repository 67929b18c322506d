"""A real OpenAI-compatible HTTP server on 127.0.0.1 with a small deterministic "model".

It reads the prompt as papersift builds it and scores a paper by keyword overlap between
the researcher's interests and the paper's text (relevance = shared terms, at most 10). On
demand it fails (HTTP 500, 429), answers too slowly, answers invalid JSON or out-of-range
numbers, or — in "obedient" mode — follows instructions it finds anywhere in the prompt,
as a weak model would: "rate this 10", fake JSON answers, Chinese instructions. Other modes
play real servers' quirks: a reasoning model's think block and chatter around the JSON, a
deterministic model that repeats its bad answer until told what was wrong, one that
writes its TL;DR in English for a Chinese prompt (until told, or always), servers that
reject `response_format`, `temperature` or `max_tokens` with HTTP 400, no or odd `usage`.
In "oracle" mode it knows each paper's relevance from a file the caller loads (a judge that
knows the user's truth, as imperfectly as that file says). It also summarises a user's notes
when asked (the first sentences that fit), or fails to on demand.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from papersift.records import Paper

STOP = frozenset("""about above after again against also among an and any are because been before
being below between both but by can could did does doing down during each few for from
further had has have having here how into its itself just more most much must not now off
once only other our ours out over own same should some such than that the their them then
there these they this those through under until very was were what when where which while
who whom why will with would you your paper papers propose proposed proposes present work
show shows using based method methods approach results model models task tasks new""".split())  # noqa: SIM905
WORD = re.compile(r"[a-z][a-z-]{3,}")
OBEY_SCORE = [re.compile(p, re.IGNORECASE) for p in (
    r"(?:rate|score|give|assign|award|grade)\b[^.。]{0,40}?\b(\d{1,2})\b",
    r"relevance\W{0,4}(\d{1,2})", r"(\d{1,2})\s*分", r"打.{0,6}?(\d{1,2})")]
OBEY_MAX = re.compile(r"ignore|disregard|满分|忽略|最高|maximum|highest|perfect", re.IGNORECASE)
FAKE_JSON = re.compile(r"\{[^{}]*\"relevance\"[^{}]*\}")


# OpenAI-style 400 bodies, as servers that do not take a parameter answer (llama.cpp names
# the parameter only in its message)
REJECTS = {
    "reject_response_format": ("response_format", {
        "message": "Unsupported param: response_format", "type": "invalid_request_error",
        "code": 400}),
    "reject_temperature": ("temperature", {
        "message": "Unsupported value: 'temperature' does not support 0 with this model. Only "
                   "the default (1) value is supported.", "type": "invalid_request_error",
        "param": "temperature", "code": "unsupported_value"}),
    "wants_max_completion_tokens": ("max_tokens", {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                   "Use 'max_completion_tokens' instead.", "type": "invalid_request_error",
        "param": "max_tokens", "code": "unsupported_parameter"}),
}
CORRECTION = "reply with the JSON object only"  # what the client says after a bad answer
KEY_WORDS = 12  # words of an abstract's start or end that recognise a paper
PAPER_TEXT = re.compile(r"Title: (.*?)\nAbstract: (.*?)(?:\nFull text \(excerpt\): .*)?$",
                        re.DOTALL)
NOTES_BUDGET = re.compile(r"at most (\d+) characters")


def terms(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP}


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower())


@dataclass
class Oracle:
    """Each paper's relevance as an oracle judge answers it, recognised in a prompt by its
    title, or by the first or last words of its abstract: the lift check sends the title
    with each half of the abstract, and the abstract without the title. Unknown: 0."""
    by_key: dict[str, float]

    @classmethod
    def load(cls, path: Path) -> Oracle:
        """JSON lines {"id", "title", "abstract", "relevance"}."""
        by_key: dict[str, float] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            words = _words(r["abstract"])
            for key in (" ".join(_words(r["title"])), "^" + " ".join(words[:KEY_WORDS]),
                        "$" + " ".join(words[-KEY_WORDS:])):
                by_key.setdefault(key, float(r["relevance"]))
        return cls(by_key)

    def relevance(self, paper: str) -> float:
        m = PAPER_TEXT.search(paper.strip())
        if not m:
            return 0.0
        title, words = " ".join(_words(m.group(1))), _words(m.group(2))
        for key in (title, "^" + " ".join(words[:KEY_WORDS]),
                    "$" + " ".join(words[-KEY_WORDS:])):
            if key.strip("^$") and key in self.by_key:
                return self.by_key[key]
        return 0.0


@dataclass
class LLMServer:
    # honest obedient fail rate_limit invalid bad_schema out_of_range think no_usage odd_usage
    # always_invalid_then_corrected english_tldr english_tldr_then_corrected, and those in
    # REJECTS
    mode: str = "honest"
    delay: float = 0.0  # seconds every answer waits (a slow model)
    fail_next: int = 0  # the next n requests get HTTP 500, then the mode applies
    invalid_next: int = 0  # the next n answers are not JSON
    fail_papers: set[str] = field(default_factory=set)  # titles whose requests always fail
    key: str | None = None  # required bearer token, when set
    oracle: Oracle | None = None  # what the "oracle" mode knows (load_oracle)
    fail_summary: bool = False  # requests to summarise notes get HTTP 500
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0

    def start(self) -> LLMServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload, extra = owner.answer(self.path, body, dict(self.headers))
                data = json.dumps(payload, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "messages" in r]

    @property
    def summary_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.chat_requests if '"summary"' in r["messages"][0]["content"]]

    def load_oracle(self, path: Path) -> None:
        """Judge from now on by the relevance file at `path` (Oracle.load)."""
        self.oracle = Oracle.load(path)
        self.mode = "oracle"

    # --- the "model" ----------------------------------------------------------------------

    def answer(self, path: str, body: dict, headers: dict[str, str],
               ) -> tuple[int, dict, dict[str, str]]:
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fail = self.fail_next > 0
            self.fail_next -= fail
            invalid = self.invalid_next > 0 and not fail
            self.invalid_next -= invalid
        try:
            if self.delay:
                time.sleep(self.delay)
            if self.key and headers.get("Authorization") != f"Bearer {self.key}":
                return 401, {"error": {"message": "invalid api key"}}, {}
            if fail or self.mode == "fail":
                return 500, {"error": {"message": "boom"}}, {}
            if self.mode == "rate_limit":
                return 429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}
            if path.endswith("/embeddings"):
                return 200, self.embeddings(body), {}
            if not path.endswith("/chat/completions"):
                return 404, {"error": {"message": f"no route {path}"}}, {}
            if self.mode in REJECTS and REJECTS[self.mode][0] in body:
                return 400, {"error": REJECTS[self.mode][1]}, {}
            messages = body["messages"]
            system, user = messages[0]["content"], messages[1]["content"]  # a retry adds more
            if any(t in user for t in self.fail_papers):
                return 500, {"error": {"message": "this paper breaks me"}}, {}
            corrected = any(CORRECTION in m["content"] for m in messages[2:])
            if '"summary"' in system:
                if self.fail_summary:
                    return 500, {"error": {"message": "cannot summarise"}}, {}
                content = self.summarise(system, user)
            elif invalid or self.mode == "invalid" or (
                    self.mode == "always_invalid_then_corrected" and not corrected):
                content = "Sure! Here is my rating."
            else:
                content = self.judge(system, user, corrected)
            prompt = sum(len(m["content"]) for m in messages)
            out = {"id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                   "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content}}],
                   "usage": {"prompt_tokens": math.ceil(prompt / 4),
                             "completion_tokens": math.ceil(len(content) / 4),
                             "total_tokens": math.ceil(prompt / 4) +
                             math.ceil(len(content) / 4)}}
            if self.mode == "no_usage":
                del out["usage"]
            elif self.mode == "odd_usage":  # as some proxies fill it
                out["usage"] = {"prompt_tokens": None, "completion_tokens": "n/a"}
            return 200, out, {}
        finally:
            with self.lock:
                self.in_flight -= 1

    def judge(self, system: str, user: str, corrected: bool = False) -> str:
        nonce = re.search(r"\nref: (\w+)$", user)
        ref = nonce.group(1) if nonce else ""
        zh = "Chinese" in system
        interests = user.split("⟦PAPER", 1)[0]
        paper = user
        if ref and f"⟦PAPER {ref}⟧" in user:
            paper = user.split(f"⟦PAPER {ref}⟧", 1)[1].split(f"⟦END {ref}⟧", 1)[0]
        shared = sorted(terms(interests) & terms(paper))
        relevance: float = min(10, len(shared))
        if self.mode == "oracle" and self.oracle is not None:
            relevance = self.oracle.relevance(paper)
        novelty = min(10, 2 * len(re.findall(r"\b(novel|first|new|introduce)", paper, re.I)))
        if self.mode == "obedient":
            if fake := FAKE_JSON.search(user):
                return fake.group(0)  # parrots the answer the paper wrote for it
            for p in OBEY_SCORE:
                if m := p.search(paper):
                    relevance = int(m.group(1))
                    break
            else:
                if OBEY_MAX.search(paper):
                    relevance = 10
        abstract = paper.split("Abstract:", 1)[-1].strip()
        first = re.split(r"(?<=[.!?。])\s", abstract, maxsplit=1)[0][:200]
        reason = (f"与你的兴趣共有 {len(shared)} 个关键词：{'、'.join(shared[:4])}。" if zh
                  else f"Shares {len(shared)} of your terms: {', '.join(shared[:4])}.")
        english = self.mode == "english_tldr" or (
            self.mode == "english_tldr_then_corrected" and not corrected)
        out: dict[str, Any] = {"ref": ref, "relevance": relevance, "novelty": novelty,
                               "reason": reason,
                               "tldr": ("本文：" if zh and not english else "") + first}
        if self.mode == "bad_schema":
            out["relevance"] = "very high"
        elif self.mode == "out_of_range":
            out.update(relevance=42, novelty=-3, reason="x" * 5000)
        answer = json.dumps(out, ensure_ascii=False)
        if self.mode == "think":  # a draft with braces in the reasoning, chatter around
            draft = json.dumps({**out, "ref": "draft", "relevance": 0})
            return (f"<think>\nThe user wants JSON. Draft: {draft} — no, check the ref."
                    f"\n</think>\n\nHere is my judgement:\n```json\n{answer}\n```\n"
                    "I hope this helps {and is useful}.")
        return answer

    def summarise(self, system: str, user: str) -> str:
        """The notes' first sentences that fit the budget the prompt names."""
        budget = NOTES_BUDGET.search(system)
        limit = int(budget.group(1)) if budget else 500
        out = ""
        for sentence in re.split(r"(?<=[.!?。])\s*", user):
            if len(out) + len(sentence) + 1 > limit:
                break
            out = f"{out} {sentence}".strip()
        return json.dumps({"summary": out}, ensure_ascii=False)

    def embeddings(self, body: dict) -> dict:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(texts):
            vec = [0.0] * 16
            for w in terms(text):
                vec[int(hashlib.md5(w.encode()).hexdigest(), 16) % 16] += 1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            data.append({"object": "embedding", "index": i, "embedding": [v / norm for v in vec]})
        out = {"object": "list", "data": data, "model": body["model"],
               "usage": {"prompt_tokens": sum(math.ceil(len(t) / 4) for t in texts)}}
        if self.mode == "no_usage":
            del out["usage"]
        return out


CORPUS = Path(__file__).with_name("llm_injection.jsonl")  # the screen was written from it
# Written afterwards in new wordings, never run against the screen while writing it nor used
# to tune its phrase list: it measures what the defences do against attacks nobody tuned for.
HELDOUT = Path(__file__).with_name("llm_injection_heldout.jsonl")


def injection_corpus(path: Path = CORPUS) -> list[tuple[str, Paper, Paper]]:
    """(name, the paper as honestly written, the same paper with the injection added)."""
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        r = json.loads(line)
        honest = Paper(id=f"2599.{i:05d}", title=r["title"], abstract=r["honest"],
                       categories=["cs.LG"])
        attack = r["injection"]
        if r["where"] == "title":
            attacked = replace(honest, title=f"{attack} {r['title']}")
        elif r["where"] == "start":
            attacked = replace(honest, abstract=f"{attack} {r['honest']}")
        elif r["where"] == "middle":  # after the first sentence
            first, rest = re.split(r"(?<=[.!?。])\s", r["honest"], maxsplit=1)
            attacked = replace(honest, abstract=f"{first} {attack} {rest}")
        else:
            attacked = replace(honest, abstract=f"{r['honest']} {attack}")
        out.append((r["name"], honest, attacked))
    return out


@pytest.fixture
def server() -> Iterator[LLMServer]:
    """The stub model, started on 127.0.0.1 for one test (the LLM tests' `server`)."""
    s = LLMServer().start()
    yield s
    s.stop()

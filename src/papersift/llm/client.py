"""An OpenAI-compatible client (chat completions + embeddings) over httpx: timeouts, retries
with backoff, a concurrency limit, and per-run token and cost budgets.

Works with local servers (Ollama, vLLM, llama.cpp server) and hosted APIs alike: a
parameter a server refuses with HTTP 400 (`response_format`, `temperature`, `max_tokens`) is
left out for the rest of the run. The API key comes from an environment variable or a 0600
file and never appears in errors or logs.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import numpy as np

from papersift import __version__
from papersift.config import Settings
from papersift.errors import PapersiftError

T = TypeVar("T")
log = logging.getLogger(__name__)

TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")  # the answer-length limit's names
OPTIONAL = ("response_format", "temperature", *TOKEN_FIELDS)  # what a server may refuse
CORRECTION = "Your answer was not valid: {why}; reply with the JSON object only."


class LLMError(PapersiftError):
    """The endpoint could not give a usable answer (after retries)."""


class BudgetExceeded(LLMError):
    """The run's token or cost budget would be overrun by one more call."""


class InvalidAnswer(ValueError):
    """The model answered, but not in the required shape (a retry may fix it). `usable`:
    what the answer is still worth without its flaw, taken when no retry does better."""

    def __init__(self, why: str, usable: object = None) -> None:
        super().__init__(why)
        self.usable = usable


@dataclass
class Usage:
    calls: int = 0  # HTTP requests, retries included
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Reply:
    content: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    seconds: float
    model: str


@dataclass
class Budget:
    max_tokens: int = 0  # 0 = unlimited
    max_cost: float = 0.0  # 0 = unlimited
    # in flight: estimated (prompt + max answer) tokens and cost, released on completion
    reserved_tokens: int = field(default=0)
    reserved_cost: float = field(default=0.0)


def estimate_tokens(text: str) -> int:
    """An upper estimate before sending: ~4 characters per English token, ~1 token per
    Chinese character; UTF-8 bytes / 3 covers both."""
    return len(text.encode("utf-8")) // 3 + 8


def api_key(settings: Settings, env: dict[str, str] | None = None) -> str | None:
    env = dict(os.environ) if env is None else env
    name = settings["llm.api_key_env"]
    if name and env.get(name):
        return env[name]
    file_name = settings["llm.api_key_file"]
    if not file_name:
        return None
    path = Path(file_name).expanduser()
    try:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise LLMError(f"llm.api_key_file {path} is readable by others: chmod 600 {path}")
        return path.read_text(encoding="utf-8").strip() or None
    except OSError as e:
        raise LLMError(f"cannot read llm.api_key_file {path}: {e.strerror}; fix the path or "
                       f"set {name or 'llm.api_key_env'}") from None


class Client:
    def __init__(self, base_url: str, model: str, *, key: str | None = None,
                 timeout: float = 60.0, retries: int = 2, backoff: float = 1.0,
                 concurrency: int = 4, price_input: float = 0.0, price_output: float = 0.0,
                 max_tokens: int = 0, max_cost: float = 0.0, json_mode: bool = True,
                 max_tokens_field: str = "max_tokens",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if max_tokens_field not in TOKEN_FIELDS:
            raise LLMError(f"llm.max_tokens_field must be max_tokens or max_completion_tokens, "
                           f"got {max_tokens_field!r}: fix it")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.json_mode = json_mode
        self.max_tokens_field = max_tokens_field
        self.refused: set[str] = set()  # parameters the server answered 400 to, in OPTIONAL
        self.retries = max(0, retries)
        self.backoff = backoff
        self.prices = (price_input, price_output)
        self.concurrency = max(1, concurrency)
        self.budget = Budget(max_tokens, max_cost)
        self.usage = Usage()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        headers = {"User-Agent": f"papersift/{__version__}"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), headers=headers)

    @classmethod
    def from_settings(cls, settings: Settings) -> Client:
        return cls(settings["llm.base_url"], settings["llm.model"], key=api_key(settings),
                   timeout=settings["llm.timeout"], retries=settings["llm.retries"],
                   backoff=settings["llm.backoff"], concurrency=settings["llm.concurrency"],
                   price_input=settings["llm.price_input"],
                   price_output=settings["llm.price_output"],
                   max_tokens=settings["llm.max_tokens"], max_cost=settings["llm.max_cost"],
                   json_mode=settings["llm.json_mode"],
                   max_tokens_field=settings["llm.max_tokens_field"])

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prices[0] + completion_tokens * self.prices[1]) / 1e6

    # --- chat ---------------------------------------------------------------------------

    def chat(self, messages: list[dict[str, str]], parse: Callable[[str], T], *,
             max_tokens: int = 400) -> tuple[T, Reply]:
        """Ask; `parse` turns the answer into a value or raises InvalidAnswer. A failed
        request is sent again as it was; an invalid answer is asked again with that answer
        and what was wrong with it, since a deterministic model asked the same question
        gives the same answer. An invalid answer's `usable` part is returned when no retry
        does better. Raises LLMError (BudgetExceeded) when no usable answer came."""
        sent = messages
        last = "no answer"
        usable: tuple[T, Reply] | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                reply, wait, last = self._post_chat(sent, max_tokens)
            except BudgetExceeded:
                if usable is None:
                    raise
                return usable  # paid for already: a retry we cannot afford loses nothing
            if reply is None:
                if wait:
                    self._sleep(wait)
                continue
            try:
                return parse(reply.content), reply
            except InvalidAnswer as e:
                if e.usable is not None:
                    usable = cast(T, e.usable), reply
                last = f"invalid answer ({e})"
                sent = [*messages, {"role": "assistant", "content": reply.content},
                        {"role": "user", "content": CORRECTION.format(why=str(e)[:200])}]
        if usable is not None:
            return usable
        raise LLMError(f"{self.model} at {self.base_url}: {last} after {self.retries + 1} "
                       "tries")

    def _body(self, messages: list[dict[str, str]], max_tokens: int) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if "temperature" not in self.refused:
            body["temperature"] = 0
        if self.json_mode and "response_format" not in self.refused:
            body["response_format"] = {"type": "json_object"}
        # the configured name of the limit, else the other one, else none (the server's own)
        names = sorted(TOKEN_FIELDS, key=lambda name: name != self.max_tokens_field)
        if name := next((n for n in names if n not in self.refused), None):
            body[name] = max_tokens
        return body

    def _post_chat(self, messages: list[dict[str, str]],
                   max_tokens: int) -> tuple[Reply | None, float, str]:
        """One answer: (reply, 0, "") or (None, extra wait, why it failed). A 400 refusing
        one of our optional parameters is sent again at once without it (each parameter at
        most once a run, so this ends)."""
        estimate = sum(estimate_tokens(m["content"]) for m in messages) + max_tokens
        est_cost = self.cost(estimate, 0) + self.cost(0, max_tokens)
        while True:
            body = self._body(messages, max_tokens)
            resp, seconds, why = self._send("chat/completions", body, estimate, est_cost)
            if resp is None:
                return None, 0.0, why
            if resp.status_code in (429, 500, 502, 503, 504):
                self._count(0, 0)
                return None, _retry_after(resp), f"HTTP {resp.status_code}"
            if resp.status_code < 400:
                break
            self._count(0, 0)
            if not self._refuse(resp, body):
                raise LLMError(_client_error(resp, self.model, self.base_url))
        try:
            data = resp.json()
            content = data["choices"][0]["message"]["content"] or ""
            if not isinstance(content, str):
                raise TypeError
        except (ValueError, KeyError, IndexError, TypeError):
            self._count(0, 0)
            return None, 0.0, "answer is not an OpenAI chat completion"
        usage = data.get("usage")
        prompt = _tokens(usage, "prompt_tokens",
                         sum(estimate_tokens(m["content"]) for m in messages))
        completion = _tokens(usage, "completion_tokens", estimate_tokens(content))
        cost = self._count(prompt, completion)
        return Reply(content, prompt, completion, cost, seconds,
                     str(data.get("model") or self.model)), 0.0, ""

    def _send(self, path: str, body: dict[str, Any], estimate: int,
              est_cost: float) -> tuple[httpx.Response | None, float, str]:
        """One HTTP request within the budget and the concurrency limit: (response,
        seconds, "") or (None, 0, why no response came)."""
        self._reserve(estimate, est_cost)
        try:
            with self._slots:
                start = time.perf_counter()
                try:
                    resp = self._http.post(f"{self.base_url}/{path}", json=body)
                except httpx.TimeoutException:
                    self._count(0, 0)
                    return None, 0.0, "timed out (raise llm.timeout for a slow model)"
                except httpx.InvalidURL:
                    raise LLMError(f"llm.base_url {self.base_url!r} is not a URL: fix it "
                                   "(e.g. http://127.0.0.1:11434/v1)") from None
                except httpx.HTTPError as e:
                    self._count(0, 0)
                    return None, 0.0, f"unreachable ({type(e).__name__}); check llm.base_url"
                return resp, time.perf_counter() - start, ""
        finally:
            self._release(estimate, est_cost)

    def _refuse(self, resp: httpx.Response, body: dict[str, Any]) -> bool:
        """Whether `resp` is a 400 refusing an optional parameter `body` holds; that
        parameter is then left out for the rest of the run, said once in the log."""
        if resp.status_code != 400:
            return False
        message, param = _error(resp)
        sent = [p for p in OPTIONAL if p in body]
        if param not in sent:  # llama.cpp and others name it in the message only
            named = sorted((message.find(p), p) for p in sent if p in message)
            param = named[0][1] if named else None
        if param is None:
            return False
        with self._lock:
            first = param not in self.refused
            self.refused.add(param)
        if first:
            other = next((n for n in TOKEN_FIELDS if n not in self.refused), None)
            note = ""
            if param == "response_format":
                note = " (llm.json_mode = false skips the try)"
            elif param in TOKEN_FIELDS and other:
                note = f'; sending {other} instead (llm.max_tokens_field = "{other}" skips ' \
                    "the try)"
            log.warning("%s at %s refuses %s (HTTP 400): left out for the rest of this "
                        "run%s", self.model, self.base_url, param, note)
        return True

    def _reserve(self, tokens: int, cost: float) -> None:
        with self._lock:
            b, u = self.budget, self.usage
            if b.max_tokens and u.tokens + b.reserved_tokens + tokens > b.max_tokens:
                raise BudgetExceeded(f"token budget of {b.max_tokens} reached "
                                     f"({u.tokens} used): raise llm.max_tokens")
            if b.max_cost and u.cost + b.reserved_cost + cost > b.max_cost:
                raise BudgetExceeded(f"cost budget of {b.max_cost:g} reached "
                                     f"({u.cost:.4f} spent): raise llm.max_cost")
            b.reserved_tokens += tokens
            b.reserved_cost += cost

    def _release(self, tokens: int, cost: float) -> None:
        with self._lock:
            self.budget.reserved_tokens -= tokens
            self.budget.reserved_cost -= cost

    def _count(self, prompt: int, completion: int) -> float:
        cost = self.cost(prompt, completion)
        with self._lock:
            self.usage.calls += 1
            self.usage.prompt_tokens += prompt
            self.usage.completion_tokens += completion
            self.usage.cost += cost
        return cost

    # --- embeddings ---------------------------------------------------------------------

    def embed(self, texts: list[str], model: str) -> np.ndarray:
        """Vectors from the endpoint's /embeddings (one row per text), within the same
        budget as chat: its input tokens are reserved before sending (priced as input)."""
        estimate = sum(estimate_tokens(t) for t in texts)
        est_cost = self.cost(estimate, 0)
        last = "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            resp, _, last = self._send("embeddings", {"model": model, "input": texts},
                                       estimate, est_cost)
            if resp is None:
                continue
            if resp.status_code in (429, 500, 502, 503, 504):
                self._count(0, 0)
                last = f"HTTP {resp.status_code}"
                continue
            if resp.status_code >= 400:
                self._count(0, 0)
                raise LLMError(_client_error(resp, model, self.base_url))
            try:
                data = resp.json()
                rows = sorted(data["data"], key=lambda d: d["index"])
                vecs = np.array([r["embedding"] for r in rows], dtype=np.float32)
                self._count(_tokens(data.get("usage"), "prompt_tokens", estimate), 0)
            except (ValueError, KeyError, TypeError):
                self._count(0, 0)
                last = "answer is not an OpenAI embeddings response"
                continue
            if vecs.shape[0] != len(texts):
                last = f"{vecs.shape[0]} vectors for {len(texts)} texts"
                continue
            return vecs
        raise LLMError(f"embeddings {model} at {self.base_url}: {last} after "
                       f"{self.retries + 1} tries")


def _retry_after(resp: httpx.Response) -> float:
    try:
        return min(60.0, max(0.0, float(resp.headers.get("Retry-After", 0))))
    except ValueError:
        return 0.0


def _tokens(usage: object, key: str, estimate: int) -> int:
    """The server's count, else the upper `estimate` (some servers send no usage, or an
    odd one): the budget is never overrun, in Chinese either."""
    value = usage.get(key) if isinstance(usage, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    return estimate


def _error(resp: httpx.Response) -> tuple[str, str | None]:
    """Message and parameter of an error body: OpenAI's and llama.cpp's {"error": {…}},
    vLLM's top-level fields, Ollama's {"error": "…"}."""
    try:
        data = resp.json()
    except ValueError:
        return "", None
    error = data.get("error", data) if isinstance(data, dict) else None
    if isinstance(error, str):
        return error, None
    if not isinstance(error, dict):
        return "", None
    param = error.get("param")
    return str(error.get("message") or ""), param if isinstance(param, str) else None


def _client_error(resp: httpx.Response, model: str, base_url: str) -> str:
    """A 4xx is not retried: it needs a fix on our side (key, model name, URL)."""
    fix = {401: "check the API key (llm.api_key_env / llm.api_key_file)",
           403: "check the API key's permissions",
           404: "check llm.base_url (…/v1) and the model name (llm.model)"}.get(
        resp.status_code, "check llm.model and llm.base_url")
    detail = _error(resp)[0][:160]
    return f"{model} at {base_url}: HTTP {resp.status_code}" + \
        (f" ({detail})" if detail else "") + f": {fix}"

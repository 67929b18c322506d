"""An OpenAI-compatible client (chat completions + embeddings) over httpx: timeouts, retries
with backoff, a concurrency limit, and per-run token and cost budgets.

Works with local servers (Ollama, vLLM, llama.cpp server) and hosted APIs alike. The API key
comes from an environment variable or a 0600 file and never appears in errors or logs.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np

from papersift import __version__
from papersift.config import Settings
from papersift.errors import PapersiftError

T = TypeVar("T")


class LLMError(PapersiftError):
    """The endpoint could not give a usable answer (after retries)."""


class BudgetExceeded(LLMError):
    """The run's token or cost budget would be overrun by one more call."""


class InvalidAnswer(ValueError):
    """The model answered, but not in the required shape (a retry may fix it)."""


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
                 max_tokens: int = 0, max_cost: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
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
                   max_tokens=settings["llm.max_tokens"], max_cost=settings["llm.max_cost"])

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
             max_tokens: int = 400, json_mode: bool = True) -> tuple[T, Reply]:
        """Ask; `parse` turns the answer into a value or raises InvalidAnswer, which is
        retried like a failed request. Raises LLMError (BudgetExceeded) when no usable
        answer came."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0,
                                "max_tokens": max_tokens}
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        estimate = sum(estimate_tokens(m["content"]) for m in messages) + max_tokens
        last = "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            reply, wait, last = self._post_chat(body, estimate, last)
            if reply is None:
                if wait:
                    self._sleep(wait)
                continue
            try:
                return parse(reply.content), reply
            except InvalidAnswer as e:
                last = f"invalid answer ({e})"
        raise LLMError(f"{self.model} at {self.base_url}: {last} after {self.retries + 1} "
                       "tries")

    def _post_chat(self, body: dict[str, Any], estimate: int,
                   last: str) -> tuple[Reply | None, float, str]:
        """One request: (reply, 0, "") or (None, extra wait, why it failed)."""
        est_cost = self.cost(estimate, 0) + self.cost(0, body["max_tokens"])
        self._reserve(estimate, est_cost)
        try:
            with self._slots:
                start = time.perf_counter()
                try:
                    resp = self._http.post(f"{self.base_url}/chat/completions", json=body)
                except httpx.TimeoutException:
                    self._count(0, 0)
                    return None, 0.0, "timed out (raise llm.timeout for a slow model)"
                except httpx.InvalidURL:
                    raise LLMError(f"llm.base_url {self.base_url!r} is not a URL: fix it "
                                   "(e.g. http://127.0.0.1:11434/v1)") from None
                except httpx.HTTPError as e:
                    self._count(0, 0)
                    return None, 0.0, f"unreachable ({type(e).__name__}); check llm.base_url"
                seconds = time.perf_counter() - start
        finally:
            self._release(estimate, est_cost)
        if resp.status_code in (429, 500, 502, 503, 504):
            self._count(0, 0)
            return None, _retry_after(resp), f"HTTP {resp.status_code}"
        if resp.status_code >= 400:
            self._count(0, 0)
            raise LLMError(_client_error(resp, self.model, self.base_url))
        try:
            data = resp.json()
            content = data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            self._count(0, 0)
            return None, 0.0, "answer is not an OpenAI chat completion"
        usage = data.get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or estimate - body["max_tokens"])
        completion = int(usage.get("completion_tokens") or estimate_tokens(content))
        cost = self._count(prompt, completion)
        return Reply(content, prompt, completion, cost, seconds,
                     str(data.get("model") or self.model)), 0.0, ""

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
        """Vectors from the endpoint's /embeddings (one row per text)."""
        last = "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with self._slots:
                    resp = self._http.post(f"{self.base_url}/embeddings",
                                           json={"model": model, "input": texts})
            except httpx.HTTPError as e:
                last = f"unreachable ({type(e).__name__})"
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
                self._count(int((data.get("usage") or {}).get("prompt_tokens") or 0), 0)
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


def _client_error(resp: httpx.Response, model: str, base_url: str) -> str:
    """A 4xx is not retried: it needs a fix on our side (key, model name, URL)."""
    fix = {401: "check the API key (llm.api_key_env / llm.api_key_file)",
           403: "check the API key's permissions",
           404: "check llm.base_url (…/v1) and the model name (llm.model)"}.get(
        resp.status_code, "check llm.model and llm.base_url")
    try:
        detail = str(resp.json().get("error", {}).get("message", ""))[:160]
    except (ValueError, AttributeError):
        detail = ""
    return f"{model} at {base_url}: HTTP {resp.status_code}" + \
        (f" ({detail})" if detail else "") + f": {fix}"

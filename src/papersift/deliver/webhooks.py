"""Chat webhooks: Slack (blocks), Feishu/Lark (interactive card, signed), DingTalk (markdown,
signed), WeCom (markdown), Discord, and a generic JSON POST (HMAC-signed, idempotency key).

A digest longer than a platform's message limit is split into several messages (at most
`max_messages`); what still does not fit is cut, ending with a link to the whole digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import httpx

from papersift.config import Key, Settings
from papersift.deliver.channels import Channel, DeliveryError, _secret_keys, register
from papersift.deliver.digest import Digest, Entry
from papersift.deliver.render import Links, digest_dict, render_custom, short_authors
from papersift.errors import ConfigError


class HttpChannel(Channel):
    """A channel that POSTs JSON to a URL held in the config or in an environment variable."""

    keys: ClassVar[dict[str, Key]] = {
        "url": Key(str, "", "Webhook URL (or url_env: the environment variable holding it; "
                   "the URL itself is a secret on most platforms)."),
        "url_env": Key(str, "", "Environment variable holding the webhook URL."),
    }

    def __init__(self, opts: dict[str, Any], settings: Settings) -> None:
        super().__init__(opts, settings)
        if not (opts["url"] or opts["url_env"]):
            raise ConfigError(f"channel {self.name}: set url or url_env (the environment "
                              "variable holding the webhook URL)")
        if opts["url"]:
            check_url(self.name, opts["url"])

    def url(self) -> str:
        if self.opts["url"]:
            return self.opts["url"]
        value = os.environ.get(self.opts["url_env"], "")
        if not value:
            raise DeliveryError(f"channel {self.name}: environment variable "
                                f"{self.opts['url_env']} (the webhook URL) is not set: export "
                                "it", permanent=True)
        try:
            return check_url(self.name, value)
        except ConfigError as e:
            raise DeliveryError(str(e), permanent=True) from None

    # --- transport ------------------------------------------------------------------------

    def post(self, url: str, data: bytes, headers: dict[str, str] | None = None
             ) -> httpx.Response:
        hdrs = {"Content-Type": "application/json; charset=utf-8",
                "User-Agent": "papersift (+https://github.com/papersift)", **(headers or {})}
        where = _redact(url)
        try:
            resp = httpx.post(url, content=data, headers=hdrs, timeout=self.timeout)
        except httpx.TimeoutException:
            raise DeliveryError(f"{self.type} webhook {where} did not answer within "
                                f"{self.timeout:g} s") from None
        except httpx.HTTPError as e:
            raise DeliveryError(f"cannot reach {self.type} webhook {where} "
                                f"({e.__class__.__name__}): check the URL and the network") \
                from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise DeliveryError(f"{self.type} webhook {where} answered HTTP {resp.status_code}"
                                f"{_snippet(resp)}: the platform is busy or down; retried")
        if resp.status_code >= 400:
            raise DeliveryError(f"{self.type} webhook {where} answered HTTP {resp.status_code}"
                                f"{_snippet(resp)}: the URL is wrong or revoked, or the "
                                "payload was refused; fix the channel", permanent=True)
        if "html" in resp.headers.get("content-type", "") or \
                resp.text.lstrip().lower().startswith(("<!doctype", "<html")):
            raise DeliveryError(f"{self.type} webhook {where} answered with an HTML page, not "
                                "the platform's answer: the URL points at a web page; copy "
                                "the webhook URL again", permanent=True)
        return resp

    def send(self, message: dict, key: str) -> str:
        return self.accept(self.post(self.url(), _json(message)))

    def accept(self, resp: httpx.Response) -> str:
        return f"HTTP {resp.status_code}"

    def json_code(self, resp: httpx.Response, code_key: str, msg_key: str) -> str:
        """Feishu, DingTalk and WeCom answer HTTP 200 with an error code in the JSON."""
        try:
            body = resp.json()
        except ValueError:
            raise DeliveryError(f"{self.type} webhook answered {resp.text[:80]!r}, not JSON: "
                                "check the URL", permanent=True) from None
        code = body.get(code_key, body.get("StatusCode", 0))
        if code not in (0, None):
            raise DeliveryError(f"{self.type} webhook refused the message (code {code}: "
                                f"{body.get(msg_key) or body.get('StatusMessage')}): check the "
                                "URL, the secret and the bot's security settings",
                                permanent=True)
        return f"HTTP {resp.status_code}, code 0"



class Webhook(HttpChannel):
    """A chat platform: the digest as Markdown-like text blocks, split to fit a message."""

    keys: ClassVar[dict[str, Key]] = {
        **HttpChannel.keys,
        "max_messages": Key(int, 4, "A long digest is split into at most this many messages, "
                            "then cut with a link to the rest."),
    }
    limit: ClassVar[int] = 4000  # of one message's text, in `measure` units
    max_items: ClassVar[int] = 50  # entries per message

    # --- content: a header and one text block per entry, packed into messages -----------

    @staticmethod
    def measure(text: str) -> int:
        return len(text.encode("utf-8"))

    @staticmethod
    def esc(text: str) -> str:
        return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)

    def link(self, url: str, text: str) -> str:
        return f"[{text}]({url})"

    def header(self, d: Digest) -> str:
        lines = [f"{len(d.entries)} of {d.candidates} papers announced on {d.span}."]
        if d.note:
            lines.insert(0, d.note)
        return "\n".join(lines)

    def entry(self, e: Entry, d: Digest, links: Links) -> str:
        lines = [f"**{e.rank}. {self.link(e.paper.url, self.esc(e.paper.title))}**",
                 self.esc(short_authors(e.paper.authors, keep=4)),
                 f"score {e.score:.2f} {'▰' * round(d.fraction(e) * 10)} · "
                 f"{' '.join(e.paper.categories[:3])}"]
        if e.tldr:
            lines.append(f"TL;DR: {self.esc(e.tldr)}")
        lines.append(f"Why: {self.esc(e.reason)}")
        lines.append(f"{self.link(links.url(e, 'up'), '👍')}  "
                     f"{self.link(links.url(e, 'down'), '👎')}")
        return "\n".join(lines)

    def pack(self, digest: Digest, links: Links) -> list[list[str]]:
        """Blocks per message: the header, then whole entries while they fit."""
        more = self.link(links.digest_url(digest), "the whole digest")
        reserve = self.measure(f"… N more papers: {more}") + 16
        budget = self.limit - reserve
        messages: list[list[str]] = [[self.header(digest)]]
        for e in digest.entries:
            block = self.entry(e, digest, links)
            while self.measure(block) > budget:  # one huge entry: cut its text
                block = block[: int(len(block) * 0.9)] + "…"
            used = sum(self.measure(b) + 2 for b in messages[-1])
            if used + self.measure(block) > budget or len(messages[-1]) > self.max_items:
                if len(messages) == self.opts["max_messages"]:
                    left = len(digest.entries) - (e.rank - 1)
                    messages[-1].append(f"… {left} more papers: {more}")
                    break
                messages.append([])
            messages[-1].append(block)
        return messages

    def render(self, digest: Digest, links: Links, key: str) -> list[Any]:
        digest = self.trim(digest)
        if self.template:
            text = render_custom(Path(self.template), digest, links)
            return [self.payload(digest, [text], 1, 1)]
        packed = self.pack(digest, links)
        return [self.payload(digest, blocks, i + 1, len(packed))
                for i, blocks in enumerate(packed)]

    def title(self, d: Digest, part: int, parts: int) -> str:
        return d.title + (f" ({part}/{parts})" if parts > 1 else "")

    @abstractmethod
    def payload(self, d: Digest, blocks: list[str], part: int, parts: int) -> dict:
        """The platform's JSON for one message made of `blocks`."""

def check_url(channel: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"channel {channel}: webhook URL {_redact(url)!r} is malformed: "
                          "copy the whole https://… URL from the platform")
    return url


def _redact(url: str) -> str:
    """Webhook URLs carry their secret in the path or query: show only scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "<url>"


def _snippet(resp: httpx.Response) -> str:
    text = " ".join(resp.text.split())[:120]
    if not text or text.lower().startswith(("<!doctype", "<html")):
        return ""
    return f" ({text})"


def _hmac_b64(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


@register
class Slack(Webhook):
    type = "slack"
    doc = "Slack incoming webhook (Block Kit sections)."
    limit = 2900  # one section's text is at most 3000 characters
    max_items = 45  # 50 blocks per message

    @staticmethod
    def measure(text: str) -> int:
        return len(text)

    @staticmethod
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def link(self, url: str, text: str) -> str:
        return f"<{url}|{text}>"

    def entry(self, e: Entry, d: Digest, links: Links) -> str:
        return super().entry(e, d, links).replace("**", "*", 2)

    def pack(self, digest: Digest, links: Links) -> list[list[str]]:
        # Blocks are limited one by one (3000 characters), messages by block count.
        messages: list[list[str]] = [[self.header(digest)]]
        for e in digest.entries:
            if len(messages[-1]) > self.max_items:
                if len(messages) == self.opts["max_messages"]:
                    left = len(digest.entries) - (e.rank - 1)
                    more = self.link(links.digest_url(digest), "the whole digest")
                    messages[-1].append(f"… {left} more papers: {more}")
                    break
                messages.append([])
            messages[-1].append(self.entry(e, digest, links)[: self.limit])
        return messages

    def payload(self, d: Digest, blocks: list[str], part: int, parts: int) -> dict:
        title = self.title(d, part, parts)
        return {"text": title, "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            *({"type": "section", "text": {"type": "mrkdwn", "text": b}} for b in blocks)]}

    def accept(self, resp: httpx.Response) -> str:
        if resp.text.strip() not in ("ok", ""):
            raise DeliveryError(f"slack webhook answered {resp.text[:80]!r}: check the URL",
                                permanent=True)
        return "HTTP 200 ok"


@register
class Discord(Webhook):
    type = "discord"
    doc = "Discord webhook (Markdown message; link previews off)."
    limit = 1900  # 2000 characters per message

    @staticmethod
    def measure(text: str) -> int:
        return len(text)

    def link(self, url: str, text: str) -> str:
        return f"[{text}](<{url}>)"  # <…>: no preview card per link

    def payload(self, d: Digest, blocks: list[str], part: int, parts: int) -> dict:
        text = f"**{self.esc(self.title(d, part, parts))}**\n" + "\n\n".join(blocks)
        return {"content": text[:2000], "flags": 4, "allowed_mentions": {"parse": []}}


class SignedWebhook(Webhook):
    keys: ClassVar[dict[str, Key]] = {**Webhook.keys, **_secret_keys("secret")}


def _json(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


@register
class Feishu(SignedWebhook):
    type = "feishu"
    doc = "Feishu/Lark custom bot (interactive card; signed when the bot has a secret)."
    limit = 18000
    max_items = 25

    def payload(self, d: Digest, blocks: list[str], part: int, parts: int) -> dict:
        elements: list[dict] = []
        for b in blocks:
            if elements:
                elements.append({"tag": "hr"})
            elements.append({"tag": "div", "text": {"tag": "lark_md", "content": b}})
        return {"msg_type": "interactive", "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": self.title(d, part, parts)},
                       "template": "blue"},
            "elements": elements}}

    def send(self, message: dict, key: str) -> str:
        secret = self.secret("secret", required=False)
        body = dict(message)
        if secret:
            ts = str(int(time.time()))
            # Feishu's scheme: HMAC-SHA256 keyed by "timestamp\nsecret" over an empty message.
            body = {"timestamp": ts, "sign": _hmac_b64(f"{ts}\n{secret}".encode(), b""), **body}
        return self.json_code(self.post(self.url(), _json(body)), "code", "msg")


@register
class DingTalk(SignedWebhook):
    type = "dingtalk"
    doc = "DingTalk custom robot (Markdown; signed when the robot has a secret)."
    limit = 18000

    def payload(self, d: Digest, blocks: list[str], part: int, parts: int) -> dict:
        title = self.title(d, part, parts)
        return {"msgtype": "markdown", "markdown": {
            "title": title, "text": f"### {title}\n\n" + "\n\n".join(blocks)}}

    def send(self, message: dict, key: str) -> str:
        url = self.url()
        secret = self.secret("secret", required=False)
        if secret:
            ts = str(int(time.time() * 1000))
            # DingTalk's scheme: HMAC-SHA256 keyed by the secret over "timestamp\nsecret".
            sign = _hmac_b64(secret.encode(), f"{ts}\n{secret}".encode())
            url += ("&" if "?" in url else "?") + urlencode({"timestamp": ts, "sign": sign})
        return self.json_code(self.post(url, _json(message)), "errcode", "errmsg")


@register
class WeCom(Webhook):
    type = "wecom"
    doc = "WeCom (企业微信) group robot (Markdown)."
    limit = 4000  # 4096 bytes per message

    def payload(self, d: Digest, blocks: list[str], part: int, parts: int) -> dict:
        return {"msgtype": "markdown", "markdown": {
            "content": f"**{self.title(d, part, parts)}**\n" + "\n\n".join(blocks)}}

    def send(self, message: dict, key: str) -> str:
        return self.json_code(self.post(self.url(), _json(message)), "errcode", "errmsg")


@register
class GenericWebhook(HttpChannel):
    type = "webhook"
    doc = ("Generic JSON POST of the whole digest; `Idempotency-Key` header, and "
           "`X-Papersift-Signature: sha256=<hex HMAC of timestamp.body>` with a secret.")
    keys: ClassVar[dict[str, Key]] = {**HttpChannel.keys, **_secret_keys("secret")}

    def render(self, digest: Digest, links: Links, key: str) -> list[Any]:
        return [{"delivery": {"key": key}, **digest_dict(self.trim(digest), links)}]

    def send(self, message: dict, key: str) -> str:
        secret = self.secret("secret", required=False)
        headers = {"Idempotency-Key": key}
        body = _json(message)
        if secret:
            ts = str(int(time.time()))
            mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
            headers |= {"X-Papersift-Timestamp": ts,
                        "X-Papersift-Signature": f"sha256={mac.hexdigest()}"}
        return self.accept(self.post(self.url(), body, headers))

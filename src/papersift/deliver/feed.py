"""RSS 2.0 / Atom feed per user (feedgen): one item per delivered digest, newest first.

The feed's items live in a JSON file beside it (`<path>.items.json`), keyed by delivery
key: writing a digest twice replaces its item, so a re-delivery never duplicates one.
The web app serves the same file.
"""

from __future__ import annotations

import fcntl
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from feedgen.feed import FeedGenerator

from papersift.config import Key, Settings
from papersift.deliver.channels import Channel, DeliveryError, register
from papersift.deliver.digest import Digest
from papersift.deliver.render import Links, render_custom, render_html, write_atomic
from papersift.errors import ConfigError


@register
class FeedChannel(Channel):
    type = "feed"
    doc = "An RSS 2.0 or Atom file per user, for any feed reader."
    keys: ClassVar[dict[str, Key]] = {
        "path": Key(str, None, "Feed file; {user} is replaced by the user's name.", path=True),
        "format": Key(str, "rss", "rss or atom."),
        "keep": Key(int, 60, "Digests kept in the feed."),
    }

    def __init__(self, opts: dict[str, Any], settings: Settings) -> None:
        super().__init__(opts, settings)
        if opts["format"] not in ("rss", "atom"):
            raise ConfigError(f"channel {self.name}: format must be rss or atom, got "
                              f"{opts['format']!r}")

    def path(self, user: str) -> Path:
        return Path(self.opts["path"].replace("{user}", user)).expanduser()

    def render(self, digest: Digest, links: Links, key: str) -> list[dict]:
        digest = self.trim(digest)
        html = (render_custom(Path(self.template), digest, links) if self.template
                else render_html(digest, links))
        return [{"key": key, "user": digest.user, "title": digest.title,
                 "link": links.digest_url(digest), "html": html,
                 "published": datetime.now(UTC).isoformat(timespec="seconds")}]

    def send(self, message: dict, key: str) -> str:
        path = self.path(message["user"])
        side = path.with_name(path.name + ".items.json")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # read, add, write under a lock: the daily job's workers (or two runs) delivering
            # to one feed at once would otherwise each drop the other's new item
            with open(path.with_name(path.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                items = json.loads(side.read_text(encoding="utf-8")) if side.exists() else []
                items = [i for i in items if i["key"] != key][: self.opts["keep"] - 1]
                items.insert(0, message)
                xml = feed_xml(items, message["user"], self.opts["format"],
                               self.settings["web.base_url"])
                write_atomic(side, json.dumps(items, ensure_ascii=False))
                write_atomic(path, xml)
        except (OSError, ValueError) as e:
            raise DeliveryError(f"cannot write feed {path} ({e}): fix the channel's path",
                                permanent=True) from None
        return f"wrote {path} ({len(items)} items)"


def feed_xml(items: list[dict], user: str, fmt: str, base_url: str) -> str:
    fg = FeedGenerator()
    fg.id(f"{base_url.rstrip('/')}/feed/{user}")
    fg.title(f"papersift digests of {user}")
    fg.link(href=f"{base_url.rstrip('/')}/feed/{user}", rel="self")
    fg.link(href=base_url, rel="alternate")
    fg.description("Each arXiv listing day's papers, ranked against your library.")
    fg.language("en")
    for item in reversed(items):  # feedgen prepends: add oldest first
        fe = fg.add_entry()
        fe.id(f"urn:papersift:{item['key']}")
        fe.guid(f"urn:papersift:{item['key']}", permalink=False)
        fe.title(item["title"])
        fe.link(href=item["link"])
        fe.published(item["published"])
        fe.updated(item["published"])
        fe.content(item["html"], type="CDATA" if fmt == "rss" else "html")
        fe.description(item["title"])
    out = fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)
    return out.decode("utf-8")

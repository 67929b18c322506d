"""Renderers, one source of truth for content: Jinja2 templates for Markdown, the HTML page,
HTML e-mail (inline CSS) and plain text; a `rich` table for the terminal; JSON for machines.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from rich.console import Console
from rich.table import Table
from rich.text import Text

from papersift.config import Settings
from papersift.deliver.digest import Digest, Entry
from papersift.errors import PapersiftError
from papersift.tokens import feedback_url, load_key

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _md_escape(s: str) -> str:
    """Paper text is untrusted: keep it from becoming Markdown/HTML markup."""
    return _MD_SPECIAL.sub(r"\\\1", s)


def short_authors(authors: list[str], keep: int = 6) -> str:
    """Long author lists (technical reports) shortened to the first few, "et al."."""
    if len(authors) <= keep + 2:
        return ", ".join(authors)
    return ", ".join(authors[:keep]) + f" et al. ({len(authors)} authors)"


def text_bar(fraction: float, width: int = 10) -> str:
    full = round(max(0.0, min(1.0, fraction)) * width)
    return "▰" * full + "▱" * (width - full)


@dataclass(frozen=True)
class Links:
    """Signed 👍/👎 links of one user's digest (consumed by the web app's /feedback)."""
    base_url: str
    key: bytes
    user: str
    days: int = 14

    @classmethod
    def from_settings(cls, settings: Settings, user: str) -> Links:
        return cls(settings["web.base_url"], load_key(settings.secret_file), user,
                   settings["web.link_days"])

    def url(self, entry: Entry, action: str) -> str:
        return feedback_url(self.base_url, self.key, self.user, entry.paper.id, action,
                            self.days)

    def digest_url(self, digest: Digest) -> str:
        return f"{self.base_url.rstrip('/')}/digest/{digest.day}"


@functools.lru_cache(maxsize=32)
def _env(extra_dir: Path | None = None) -> Environment:
    """One environment per template folder, kept: Jinja compiles a template on first use
    and reuses it (a fresh environment per digest recompiled every template: ~40 ms of each
    user's daily job). An edited template is still picked up (Jinja checks its mtime)."""
    loaders: list = [PackageLoader("papersift.deliver", "templates")]
    if extra_dir is not None:
        loaders.insert(0, FileSystemLoader(str(extra_dir)))
    env = Environment(loader=ChoiceLoader(loaders),
                      autoescape=select_autoescape(["html.j2", "html"]),
                      keep_trailing_newline=True)
    env.filters["md"] = _md_escape
    env.filters["authors"] = short_authors
    env.filters["bar"] = text_bar
    return env


def _render(name: str, digest: Digest, links: Links | None, **extra: Any) -> str:
    return _env().get_template(name).render(d=digest, links=links, **extra)


def render_markdown(digest: Digest, links: Links | None = None) -> str:
    return _render("digest.md.j2", digest, links)


def render_html(digest: Digest, links: Links | None = None) -> str:
    return _render("digest.html.j2", digest, links)


def render_email_html(digest: Digest, links: Links | None = None,
                      unsubscribe: str | None = None) -> str:
    return _render("email.html.j2", digest, links, unsubscribe=unsubscribe)


def render_text(digest: Digest, links: Links | None = None) -> str:
    return _render("digest.txt.j2", digest, links)


def render_custom(path: Path, digest: Digest, links: Links | None = None,
                  **extra: Any) -> str:
    """A user's own template (Jinja2, same variables and filters as the built-in ones)."""
    try:
        template = _env(path.parent).get_template(path.name)
        return template.render(d=digest, links=links, **extra)
    except TemplateSyntaxError as e:
        raise PapersiftError(f"template {path} line {e.lineno}: {e.message}: fix the "
                             "template") from None
    except TemplateError as e:
        msg = getattr(e, "message", None) or str(e)
        raise PapersiftError(f"template {path} failed: {msg}: fix the template") from None
    except OSError as e:
        raise PapersiftError(f"cannot read template {path}: {e.strerror}; fix the path") \
            from None


def digest_dict(digest: Digest, links: Links | None = None) -> dict[str, Any]:
    return {
        "user": digest.user, "day": digest.day, "since": digest.since,
        "title": digest.title, "candidates": digest.candidates, "note": digest.note,
        "entries": [{
            "rank": e.rank, "id": e.paper.id, "title": e.paper.title,
            "authors": e.paper.authors, "url": e.paper.url,
            "categories": e.paper.categories, "score": e.score,
            "score_fraction": round(digest.fraction(e), 3), "reason": e.reason,
            "tldr": e.tldr,
            **({"feedback": {a: links.url(e, a) for a in ("up", "down")}} if links else {}),
        } for e in digest.entries],
    }


def render_json(digest: Digest, links: Links | None = None) -> str:
    return json.dumps(digest_dict(digest, links), ensure_ascii=False, indent=1)


def print_table(digest: Digest, console: Console) -> None:
    if digest.note:
        console.print(digest.note)
    if not digest.entries:
        return
    table = Table(title=f"papersift — {digest.span} ({len(digest.entries)} of "
                        f"{digest.candidates} papers)", show_lines=True, expand=True)
    table.add_column("#", justify="right", width=3)
    table.add_column("paper", ratio=3)
    table.add_column("score", justify="right", width=6)
    table.add_column("why", ratio=2)
    for e in digest.entries:
        authors = short_authors(e.paper.authors, keep=3)
        cell = Text(e.paper.title, style="bold")
        cell.append(f"\n{authors}\n", style="dim")
        cell.append(e.paper.url, style=f"link {e.paper.url}")
        cell.append(f"  {' '.join(e.paper.categories[:3])}", style="dim")
        why = Text(f"TL;DR: {e.tldr}\n" if e.tldr else "")
        why.append(e.reason)
        table.add_row(str(e.rank), cell, f"{e.score:.2f}", why)
    console.print(table)


def write_files(digest: Digest, out_dir: Path, links: Links | None = None) -> list[Path]:
    """Write <out_dir>/<user>/<day>.md and .html atomically; returns the paths."""
    folder = out_dir / digest.user
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, text in ((".md", render_markdown(digest, links)),
                         (".html", render_html(digest, links))):
        path = folder / f"{digest.day}{suffix}"
        write_atomic(path, text)
        paths.append(path)
    return paths


def write_atomic(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)

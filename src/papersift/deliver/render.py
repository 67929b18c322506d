"""Renderers: Markdown and standalone HTML from Jinja2 templates, and a `rich` table."""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Console
from rich.table import Table
from rich.text import Text

from papersift.deliver.digest import Digest

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _md_escape(s: str) -> str:
    """Paper text is untrusted: keep it from becoming Markdown/HTML markup."""
    return _MD_SPECIAL.sub(r"\\\1", s)


def short_authors(authors: list[str], keep: int = 6) -> str:
    """Long author lists (technical reports) shortened to the first few, "et al."."""
    if len(authors) <= keep + 2:
        return ", ".join(authors)
    return ", ".join(authors[:keep]) + f" et al. ({len(authors)} authors)"


def _env() -> Environment:
    env = Environment(loader=PackageLoader("papersift.deliver", "templates"),
                      autoescape=select_autoescape(["html.j2"]), keep_trailing_newline=True)
    env.filters["md"] = _md_escape
    env.filters["authors"] = short_authors
    env.filters["clamp01"] = lambda x: max(0.0, min(1.0, float(x)))
    return env


def render_markdown(digest: Digest) -> str:
    return _env().get_template("digest.md.j2").render(d=digest)


def render_html(digest: Digest) -> str:
    return _env().get_template("digest.html.j2").render(d=digest)


def print_table(digest: Digest, console: Console) -> None:
    if digest.note:
        console.print(digest.note)
    if not digest.entries:
        return
    table = Table(title=f"papersift — {digest.day} ({len(digest.entries)} of "
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
        table.add_row(str(e.rank), cell, f"{e.score:.2f}", Text(e.reason))
    console.print(table)


def write_files(digest: Digest, out_dir: Path) -> list[Path]:
    """Write <out_dir>/<user>/<day>.md and .html atomically; returns the paths."""
    folder = out_dir / digest.user
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, text in ((".md", render_markdown(digest)), (".html", render_html(digest))):
        path = folder / f"{digest.day}{suffix}"
        tmp = path.with_suffix(suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        paths.append(path)
    return paths

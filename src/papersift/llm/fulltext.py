"""Full text of the final few papers: arXiv's HTML rendering first, the PDF's text if there
is none, within a hard time limit per paper (download and extraction together). Never used
before ranking: only the papers already picked are read.

The limit is on total time, not per socket read: the downloads run under one asyncio
deadline that cancels a read mid-wait, and the PDF is parsed in a child process killed at
the deadline (a crafted PDF can keep the parser busy for minutes inside one page)."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import ClassVar

import httpx

from papersift import __version__
from papersift.records import Paper

MAX_BYTES = 30_000_000  # no paper's HTML or PDF needs more
CHUNK = 256_000  # HTML characters parsed between two looks at the clock

log = logging.getLogger(__name__)


class Deadline(Exception):
    pass


class _Text(HTMLParser):
    SKIP: ClassVar[set[str]] = {"script", "style", "nav", "header", "footer", "head", "math",
                                "svg", "figure"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.skip += tag in self.SKIP

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in self.SKIP and self.skip > 0

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)

    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.parts)).strip()


def html_text(html: str, deadline: float, max_chars: int) -> str:
    """The page's text, parsed a chunk at a time until `max_chars` are in or time is up."""
    parser = _Text()
    for i in range(0, len(html), CHUNK):
        if time.monotonic() > deadline:
            raise Deadline
        parser.feed(html[i:i + CHUNK])
        if sum(map(len, parser.parts)) >= max_chars and len(parser.text()) >= max_chars:
            break
    return parser.text()[:max_chars]


async def _download(http: httpx.AsyncClient, url: str) -> tuple[bytes, str] | None:
    """The body and content type, or None (not there, or too big)."""
    async with http.stream("GET", url) as resp:
        if resp.status_code != 200:
            return None
        chunks, size = [], 0
        async for chunk in resp.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BYTES:
                return None
        return b"".join(chunks), resp.headers.get("Content-Type", "")


async def _fetch(paper: Paper, html_url: str, pdf_url: str, deadline: float,
                 max_chars: int) -> str | bytes:
    """The HTML's text, else the PDF's bytes (b"" when there is neither)."""
    headers = {"User-Agent": f"papersift/{__version__} (full text of a recommended paper)"}
    # no httpx timeout: the deadline alone ends a slow paper, so it always gets the warning
    async with asyncio.timeout(deadline - time.monotonic()), httpx.AsyncClient(
            headers=headers, follow_redirects=True, timeout=None) as http:
        got = await _download(http, f"{html_url.rstrip('/')}/{paper.id}")
        if got and "html" in got[1]:
            text = html_text(got[0].decode("utf-8", "replace"), deadline, max_chars)
            if len(text) > 500:  # arXiv answers a short page when it has no HTML
                return text
        got = await _download(http, f"{pdf_url.rstrip('/')}/{paper.id}")
    return got[0] if got and got[0].startswith(b"%PDF") else b""


def pdf_text(data: bytes, deadline: float, max_chars: int) -> str:
    """The PDF's text from a child process (`python -m papersift.llm.fulltext`), killed at
    the deadline; "" when the PDF is unreadable."""
    try:
        done = subprocess.run([sys.executable, "-m", __name__, str(max_chars)], input=data,
                              capture_output=True, timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired as e:  # run() has killed and reaped the child
        raise Deadline from e
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def _pdf_worker(max_chars: int) -> None:
    """Write the text of the PDF on stdin to stdout, pages in order, up to `max_chars`."""
    from pypdf import PdfReader

    parts, size = [], 0
    for page in PdfReader(io.BytesIO(sys.stdin.buffer.read())).pages:
        parts.append(page.extract_text() or "")
        size += len(parts[-1])
        if size >= max_chars:
            break
    text = re.sub(r"\s+", " ", " ".join(parts)).strip()[:max_chars]
    sys.stdout.buffer.write(text.encode("utf-8", "replace"))  # PDFs can hold lone surrogates


def full_text(paper: Paper, *, html_url: str, pdf_url: str, seconds: float,
              max_chars: int = 8000, warn: Callable[[str], None] = log.warning) -> str:
    """Up to `max_chars` of the paper's text; "" when neither form is there or read in
    `seconds` (then with a one-line warning to `warn`, the daily job's list of warnings for
    the digest: the paper is judged on its abstract)."""
    deadline = time.monotonic() + seconds
    try:
        got = asyncio.run(_fetch(paper, html_url, pdf_url, deadline, max_chars))
        if isinstance(got, str):
            return got
        return pdf_text(got, deadline, max_chars) if got else ""
    except (TimeoutError, Deadline):
        warn(f"full text of {paper.id} not read within {seconds:g} s: judged on its abstract")
    except httpx.HTTPError:
        pass
    return ""


if __name__ == "__main__":
    _pdf_worker(int(sys.argv[1]))

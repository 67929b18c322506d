"""Full text of the final few papers: arXiv's HTML rendering first, the PDF's text if there
is none, within a hard time limit per paper (download and extraction together). Never used
before ranking: only the papers already picked are read."""

from __future__ import annotations

import io
import re
import time
from html.parser import HTMLParser
from typing import ClassVar

import httpx

from papersift import __version__
from papersift.records import Paper

MAX_BYTES = 30_000_000  # no paper's HTML or PDF needs more


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


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts)).strip()


class Deadline(Exception):
    pass


def _download(http: httpx.Client, url: str, deadline: float) -> tuple[bytes, str] | None:
    """The body and content type, or None (not there); Deadline when time runs out."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise Deadline
    with http.stream("GET", url, timeout=httpx.Timeout(left)) as resp:
        if resp.status_code != 200:
            return None
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            if time.monotonic() > deadline:
                raise Deadline
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BYTES:
                return None
        return b"".join(chunks), resp.headers.get("Content-Type", "")


def pdf_text(data: bytes, deadline: float, max_chars: int) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        parts, size = [], 0
        for page in reader.pages:
            if time.monotonic() > deadline:
                raise Deadline
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            if size >= max_chars:
                break
    except (PdfReadError, ValueError, KeyError, TypeError):
        return ""
    return re.sub(r"\s+", " ", " ".join(parts)).strip()


def full_text(paper: Paper, *, html_url: str, pdf_url: str, seconds: float,
              max_chars: int = 8000) -> str:
    """Up to `max_chars` of the paper's text; "" when neither form arrives in `seconds`."""
    deadline = time.monotonic() + seconds
    headers = {"User-Agent": f"papersift/{__version__} (full text of a recommended paper)"}
    try:
        with httpx.Client(headers=headers, follow_redirects=True) as http:
            got = _download(http, f"{html_url.rstrip('/')}/{paper.id}", deadline)
            if got and "html" in got[1]:
                text = html_text(got[0].decode("utf-8", "replace"))
                if len(text) > 500:  # arXiv answers a short page when it has no HTML
                    return text[:max_chars]
            got = _download(http, f"{pdf_url.rstrip('/')}/{paper.id}", deadline)
            if got and got[0].startswith(b"%PDF"):
                return pdf_text(got[0], deadline, max_chars)[:max_chars]
    except (Deadline, httpx.HTTPError):
        return ""
    return ""

"""Full text of the final few: arXiv HTML first, the PDF's text otherwise, under a hard time
limit — from a real local HTTP server; and the reranker's second, full-text judgement."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from papersift.llm import prompts
from papersift.llm.client import Client
from papersift.llm.fulltext import full_text
from papersift.llm.rerank import FULLTEXT, rerank
from papersift.rank.base import Scored
from papersift.records import Paper
from papersift.store import Store
from tests.llm_server import LLMServer

BODY = ("Linear attention replaces softmax attention with a kernel feature map. " * 12)
HTML = (f"<html><head><title>x</title><script>var a = 1;</script></head><body><nav>menu</nav>"
        f"<article><h1>Introduction</h1><p>{BODY}</p><p>Scaling laws hold.</p></article>"
        "</body></html>")


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF whose page shows `text` (Helvetica), with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1,
                                                                            xref)
    return bytes(out)


class Papers:
    """arXiv's /html/<id> and /pdf/<id>: 2511.00001 has HTML, 2511.00002 only a PDF,
    2511.00003 drips its HTML forever, 2511.00004 has neither."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.hits.append(self.path)
                kind, pid = self.path.strip("/").split("/")
                if kind == "html" and pid == "2511.00003":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.end_headers()
                    try:
                        for _ in range(100):
                            self.wfile.write(b"<p>slow " + b"x" * 50 + b"</p>")
                            self.wfile.flush()
                            time.sleep(0.1)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    return
                body, ctype = {("html", "2511.00001"): (HTML.encode(), "text/html"),
                               ("pdf", "2511.00002"): (tiny_pdf("Recurrent state space "
                                                                "models at scale"),
                                                       "application/pdf")}.get(
                    (kind, pid), (b"not found", "text/plain"))
                self.send_response(200 if ctype != "text/plain" else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def fetch(self, seconds: float = 5.0) -> partial[str]:
        return partial(full_text, html_url=f"{self.url}/html", pdf_url=f"{self.url}/pdf",
                       seconds=seconds)


@pytest.fixture
def site() -> Iterator[Papers]:
    s = Papers()
    yield s
    s.httpd.shutdown()


def paper(n: int) -> Paper:
    return Paper(id=f"2511.{n:05d}", title=f"Paper {n} on linear attention",
                 abstract="Linear attention for language model pre-training.",
                 categories=["cs.LG"])


def test_html_first_then_pdf_then_nothing(site: Papers) -> None:
    # the order, not the time limit (tested below): a cold first import of the PDF reader
    # in a fresh CI venv once ran past 5 s
    fetch = site.fetch(seconds=60)
    text = fetch(paper(1))
    assert text.startswith("Introduction Linear attention") and "var a" not in text
    assert "menu" not in text and len(text) <= 8000
    assert fetch(paper(2)) == "Recurrent state space models at scale"
    assert fetch(paper(4)) == ""
    assert site.hits[-2:] == ["/html/2511.00004", "/pdf/2511.00004"]


def test_a_paper_that_never_finishes_is_cut_at_the_time_limit(site: Papers) -> None:
    start = time.perf_counter()
    assert site.fetch(seconds=0.5)(paper(3)) == ""
    assert time.perf_counter() - start < 1.5


def test_the_final_few_are_judged_again_on_their_full_text(site: Papers,
                                                           tmp_path: Path) -> None:
    server = LLMServer().start()
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    papers = {p.id: p for p in map(paper, (1, 2, 3, 4))}
    scored = [Scored(pid, 4.0 - i, "r") for i, pid in enumerate(papers)]
    profile = prompts.profile_for("linear attention, kernel feature maps, scaling laws", [], [],
                                  [])
    try:
        with Client(server.url, "tiny") as client:
            out = rerank(client, store, "ann", "2025-11-12", profile, scored, papers, top_n=4,
                         full_text=site.fetch(seconds=0.5), full_text_papers=3)
    finally:
        server.stop()
        store.close()
    assert len(server.chat_requests) == 4 + 2  # 4 abstracts, then 2 full texts (one timed out)
    assert "Full text (excerpt): Introduction" in server.chat_requests[4]["messages"][1][
        "content"] + server.chat_requests[5]["messages"][1]["content"]
    versions = {pid: j.prompt_version for pid, j in out.judgements.items()}
    assert sum(v.endswith(FULLTEXT) for v in versions.values()) == 2
    assert "/html/2511.00004" not in site.hits  # only the final few are read

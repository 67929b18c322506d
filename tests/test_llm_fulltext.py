"""Full text of the final few: arXiv HTML first, the PDF's text otherwise, under a hard time
limit (download and extraction together) — from a real local HTTP server; and the
reranker's second, full-text judgement: cached judgements first, the rest read at once."""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from papersift.llm import prompts
from papersift.llm.client import Client
from papersift.llm.fulltext import full_text
from papersift.llm.rerank import FULLTEXT, Rerank, rerank
from papersift.rank.base import Scored
from papersift.records import Paper
from papersift.store import Store
from tests.llm_server import LLMServer

BODY = ("Linear attention replaces softmax attention with a kernel feature map. " * 12)
HTML = (f"<html><head><title>x</title><script>var a = 1;</script></head><body><nav>menu</nav>"
        f"<article><h1>Introduction</h1><p>{BODY}</p><p>Scaling laws hold.</p></article>"
        "</body></html>")
SLACK = 0.5  # seconds past the limit a cut paper may take (event loop, killing the worker)


def stream(content: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(content)
    return (b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(packed), extra)
            + packed + b"\nendstream")


def pdf(content: bytes, form: bytes = b"") -> bytes:
    """A one-page PDF drawing `content` (Helvetica as /F1, `form` as the form XObject
    /Fm0), with a correct xref table."""
    font = b"<< /Font << /F1 5 0 R >> >>"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> /XObject << /Fm0 6 0 R >> >> >>",
            stream(content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            stream(form, b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources "
                   + font + b" ")]
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


def tiny_pdf(text: str) -> bytes:
    return pdf(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())


# 5 kB that take the PDF reader minutes: the page draws, 500 times, a form of 100,000
# text moves that show nothing (each draw costs about 0.07 s on a 2-core machine)
SLOW_PDF = pdf(b"/Fm0 Do\n" * 500, b"BT /F1 12 Tf\n" + b"0 0 Td\n" * 100_000 + b"ET\n")


class Papers:
    """arXiv's /html/<id> and /pdf/<id>: 2511.00001 has HTML, 2511.00002 only a PDF,
    2511.00003 drips its HTML forever, 2511.00004 has neither, 2511.00005 sends half its
    HTML over 0.75 s and stalls, 2511.00006 has only SLOW_PDF; 2511.0001x send their HTML
    after 1 s."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.closing = threading.Event()  # releases stalled answers at teardown
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.hits.append(self.path)
                kind, pid = self.path.strip("/").split("/")
                try:
                    self.answer(kind, pid)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def answer(self, kind: str, pid: str) -> None:
                if kind == "html" and pid == "2511.00003":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b"<p>slow " + b"x" * 50 + b"</p>")
                        self.wfile.flush()
                        time.sleep(0.1)
                    return
                if kind == "html" and pid == "2511.00005":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(HTML)))
                    self.end_headers()
                    half = HTML[:len(HTML) // 2].encode()
                    for i in range(4):  # a quarter of the page now and every 0.25 s
                        self.wfile.write(half[i * len(half) // 4:(i + 1) * len(half) // 4])
                        self.wfile.flush()
                        time.sleep(0.25 * (i < 3))
                    owner.closing.wait()
                    return
                if pid.startswith("2511.0001"):
                    time.sleep(1)
                body, ctype = {("html", "2511.00001"): (HTML.encode(), "text/html"),
                               ("pdf", "2511.00002"): (tiny_pdf("Recurrent state space "
                                                                "models at scale"),
                                                       "application/pdf"),
                               ("pdf", "2511.00006"): (SLOW_PDF, "application/pdf")}.get(
                    (kind, pid), (HTML.encode(), "text/html") if pid.startswith("2511.0001")
                    and kind == "html" else (b"not found", "text/plain"))
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
    s.closing.set()
    s.httpd.shutdown()


def paper(n: int) -> Paper:
    return Paper(id=f"2511.{n:05d}", title=f"Paper {n} on linear attention",
                 abstract="Linear attention for language model pre-training.",
                 categories=["cs.LG"])


def children() -> set[int]:
    """This process's live child processes (Linux)."""
    tasks = Path(f"/proc/{os.getpid()}/task").iterdir()
    return {int(pid) for t in tasks for pid in (t / "children").read_text().split()}


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


def test_a_paper_that_never_finishes_is_cut_at_the_time_limit(
        site: Papers, caplog: pytest.LogCaptureFixture) -> None:
    start = time.perf_counter()
    assert site.fetch(seconds=0.5)(paper(3)) == ""
    assert time.perf_counter() - start < 0.5 + SLACK
    assert caplog.messages == ["full text of 2511.00003 not read within 0.5 s: judged on its "
                               "abstract"]


def test_a_server_that_stalls_mid_page_is_cut_at_the_time_limit(
        site: Papers, caplog: pytest.LogCaptureFixture) -> None:
    start = time.perf_counter()
    assert site.fetch(seconds=1)(paper(5)) == ""
    assert time.perf_counter() - start < 1 + SLACK
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_a_pdf_whose_text_never_ends_is_killed_at_the_time_limit(
        site: Papers, caplog: pytest.LogCaptureFixture) -> None:
    before = children()
    start = time.perf_counter()
    assert site.fetch(seconds=2)(paper(6)) == ""
    assert time.perf_counter() - start < 2 + SLACK
    assert children() == before  # the extraction was killed, not left running
    assert site.hits == ["/html/2511.00006", "/pdf/2511.00006"]
    assert "2511.00006" in caplog.text


def run(site: Papers, store: Store, server: LLMServer, numbers: tuple[int, ...],
        full_text_papers: int, seconds: float = 2) -> Rerank:
    papers = {p.id: p for p in map(paper, numbers)}
    scored = [Scored(pid, 4.0 - i, "r") for i, pid in enumerate(papers)]
    profile = prompts.profile_for("linear attention, kernel feature maps, scaling laws", [], [],
                                  [])
    with Client(server.url, "tiny") as client:
        return rerank(client, store, "ann", "2025-11-12", profile, scored, papers,
                      top_n=len(papers), full_text=site.fetch(seconds=seconds),
                      full_text_papers=full_text_papers)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    yield s
    s.close()


def fulltext_judged(out: Rerank) -> set[str]:
    return {pid for pid, j in out.judgements.items() if j.prompt_version.endswith(FULLTEXT)}


def test_the_final_few_are_judged_again_on_their_full_text(site: Papers, server: LLMServer,
                                                           store: Store) -> None:
    out = run(site, store, server, (1, 2, 3, 4), full_text_papers=3)
    assert len(server.chat_requests) == 4 + 2  # 4 abstracts, then 2 full texts (one timed out)
    assert "Full text (excerpt): Introduction" in server.chat_requests[4]["messages"][1][
        "content"] + server.chat_requests[5]["messages"][1]["content"]
    assert fulltext_judged(out) == {"2511.00001", "2511.00002"}
    assert "/html/2511.00004" not in site.hits  # only the final few are read


def test_a_rerun_reads_no_paper_again(site: Papers, server: LLMServer, store: Store) -> None:
    first = run(site, store, server, (1, 2, 4), full_text_papers=2)
    site.hits.clear()
    calls = len(server.chat_requests)
    again = run(site, store, server, (1, 2, 4), full_text_papers=2)
    assert site.hits == []  # the full-text judgements were cached: nothing downloaded
    assert len(server.chat_requests) == calls
    assert fulltext_judged(again) == fulltext_judged(first) == {"2511.00001", "2511.00002"}
    assert [s.paper_id for s in again.scored] == [s.paper_id for s in first.scored]


def test_the_final_few_are_read_at_once(site: Papers, server: LLMServer, store: Store) -> None:
    start = time.perf_counter()
    out = run(site, store, server, (11, 12, 13), full_text_papers=3, seconds=5)
    assert time.perf_counter() - start < 2  # each paper takes 1 s: about max, not sum
    assert fulltext_judged(out) == {"2511.00011", "2511.00012", "2511.00013"}


def test_a_full_text_tldr_in_the_wrong_language_keeps_the_abstracts(
        site: Papers, server: LLMServer, store: Store) -> None:
    papers = {p.id: p for p in map(paper, (1, 4))}
    scored = [Scored(pid, 4.0 - i, "r") for i, pid in enumerate(papers)]
    profile = prompts.profile_for("linear attention, kernel feature maps", [], [], [], "zh")
    with Client(server.url, "tiny", retries=1, backoff=0) as client:
        on_abstract = rerank(client, store, "ann", "2025-11-12", profile, scored, papers,
                             top_n=2).judgements
        server.mode = "english_tldr"  # the full-text answers stay in English after a retry
        out = rerank(client, store, "ann", "2025-11-12", profile, scored, papers, top_n=2,
                     full_text=site.fetch(), full_text_papers=1)
    pid = "2511.00001"
    assert fulltext_judged(out) == {pid}
    tldr = on_abstract[pid].tldr
    assert tldr.startswith("本文") and out.judgements[pid].tldr == tldr
    # the digest shows the newest judgement's TL;DR
    assert store.latest_judgements("ann", [pid])[pid].tldr == tldr

"""The daily job with the LLM layer on, against the local deterministic model: the digest
carries TL;DRs and LLM reasons, a dead endpoint changes nothing, and off means off."""

from __future__ import annotations

import re
import shutil
import socket
from dataclasses import replace
from pathlib import Path

from papersift import config
from papersift.jobs import daily
from papersift.llm.lift import SPLIT
from papersift.rank.embed import MiniLM
from papersift.store import Store
from tests.conftest import DEMO_DAY
from tests.llm_server import LLMServer


def with_llm(settings: config.Settings, **values: object) -> config.Settings:
    llm = {**settings.values["llm"], "enabled": True, "top_n": 20, "backoff": 0.0,
           **values}
    return replace(settings, values={**settings.values, "llm": llm})


def test_daily_with_the_llm_reranks_explains_and_writes_tldrs(
        demo_settings: config.Settings, embedder: MiniLM, server: LLMServer) -> None:
    settings = with_llm(demo_settings, base_url=server.url, model="tiny")
    result = daily(settings, DEMO_DAY, embedder=embedder, send=False)
    entries = result.digest.entries
    assert entries and not result.warnings
    # the head only, one call per paper, and two more for each of the 3 papers the model
    # judged far above their local place (llm/lift.py: 9+ from the middle of the head)
    assert len(server.chat_requests) == 26
    assert all(e.tldr for e in entries)
    assert all("(LLM: relevance" in e.reason for e in entries)
    md, html = (p.read_text() for p in result.files)
    assert "**TL;DR:**" in md and "<strong>TL;DR:</strong>" in html
    store = Store(settings.store_url)
    try:
        (run,) = store.llm_runs()
        checked = [j for j in store.latest_judgements("default").values()
                   if j.prompt_version.endswith(SPLIT)]
        unchecked = {j.paper_id: store.cached_judgements(
            "default", [(j.paper_id, j.text_hash)], j.prompt_version.removesuffix(SPLIT),
            j.model, j.profile_version)[j.paper_id] for j in checked}
    finally:
        store.close()
    assert (run.user, run.day, run.judged, run.failed, run.calls) == \
        ("default", DEMO_DAY, 20, 0, 26)
    # honest papers: each checked one keeps its judgement
    assert len(checked) == 3
    assert all(j.relevance == unchecked[j.paper_id].relevance for j in checked)
    # a rerun reuses the stored digest: no new call, the same TL;DRs
    again = daily(settings, DEMO_DAY, embedder=embedder, send=False)
    assert again.reused and len(server.chat_requests) == 26
    assert [e.tldr for e in again.digest.entries] == [e.tldr for e in entries]


def test_a_dead_endpoint_gives_the_local_digest_with_a_warning(
        demo_settings: config.Settings, embedder: MiniLM, server: LLMServer) -> None:
    db = Path(demo_settings.store_url.removeprefix("sqlite:///"))
    shutil.copy(db, db.with_name("local.sqlite"))
    server.mode = "fail"
    settings = with_llm(demo_settings, base_url=server.url, retries=0)
    result = daily(settings, DEMO_DAY, embedder=embedder, send=False)
    assert any("kept their local place" in w and "HTTP 500" in w for w in result.warnings)
    local_only = replace(demo_settings, values={
        **demo_settings.values, "store": {"url": f"sqlite:///{db.with_name('local.sqlite')}"}})
    local = daily(local_only, DEMO_DAY, embedder=embedder, send=False)
    assert local.digest.entries
    assert [(e.paper.id, e.score, e.reason, e.tldr) for e in result.digest.entries] == \
        [(e.paper.id, e.score, e.reason, None) for e in local.digest.entries]


def test_full_text_past_its_time_limit_is_a_digest_warning(
        demo_settings: config.Settings, embedder: MiniLM, server: LLMServer) -> None:
    # a site that takes the connection and never answers
    with socket.create_server(("127.0.0.1", 0)) as site:
        url = f"http://127.0.0.1:{site.getsockname()[1]}"
        settings = with_llm(demo_settings, base_url=server.url, full_text=True,
                            full_text_papers=2, full_text_seconds=0.3, html_url=f"{url}/html",
                            pdf_url=f"{url}/pdf")
        result = daily(settings, DEMO_DAY, embedder=embedder, send=False)
    cut = [re.fullmatch(r"full text of (\S+) not read within 0\.3 s: judged on its abstract",
                        w) for w in result.warnings]
    assert len(cut) == 2 and all(cut)
    # the final two, judged on their abstracts instead
    assert {m.group(1) for m in cut if m} <= {e.paper.id for e in result.digest.entries}
    assert all(e.tldr for e in result.digest.entries)

"""Finding a paper on arXiv by its title (for bibliography entries without an arXiv id)."""

from __future__ import annotations

import re

from papersift.config import Settings
from papersift.records import Paper
from papersift.sources.api import parse_atom
from papersift.sources.http import ArxivClient
from papersift.store import Store
from papersift.store.profiles import norm_title


def search_titles(settings: Settings, store: Store, titles: list[str]) -> dict[str, str]:
    """{title: arXiv id} for the titles arXiv knows exactly (ignoring case and punctuation);
    the papers found are stored."""
    found: dict[str, str] = {}
    papers: list[Paper] = []
    with ArxivClient.from_settings(settings) as client:
        for title in titles:
            words = re.sub(r"[^\w\s-]", " ", title).split()
            if not words:
                continue
            params = {"search_query": f'ti:"{" ".join(words)}"', "max_results": "5"}
            page = client.get(settings["arxiv.api_url"], params, parse=parse_atom,
                              what="API response")
            for p in page.papers:
                if norm_title(p.title) == norm_title(title):
                    found[title] = p.id
                    papers.append(p)
                    break
    if papers:
        with store.begin() as conn:
            store.upsert_papers(conn, papers)
    return found

"""The renderers every channel shares: e-mail HTML, plain text, JSON, custom templates."""

import json
import os
from pathlib import Path

import pytest

from papersift.deliver.digest import Digest, Entry
from papersift.deliver.render import (
    Links,
    render_custom,
    render_email_html,
    render_json,
    render_markdown,
    render_text,
)
from papersift.errors import PapersiftError
from papersift.records import Paper
from papersift.tokens import verify

KEY = b"k" * 32
LINKS = Links("https://p.example.org/", KEY, "ann")


def digest() -> Digest:
    papers = [Paper(id=f"2511.0000{i}", title=f"Paper <{i}>", abstract="", authors=["A B"],
                    categories=["cs.CL"]) for i in range(1, 4)]
    return Digest("ann", "2025-11-12", [
        Entry(1, papers[0], 4.0, "close to X", tldr="它把注意力线性化。"),
        Entry(2, papers[1], 2.0, "keyword: y"),
        Entry(3, papers[2], -1.0, "author: A B")], candidates=300)


def test_email_html_inline_css_bars_tldr_and_signed_links() -> None:
    html = render_email_html(digest(), LINKS, unsubscribe="https://p.example.org/u")
    assert "<style" not in html and "Paper &lt;1&gt;" in html
    assert "width:100px" in html and "width:50px" in html and "width:0px" in html  # 4, 2, -1
    assert "<strong>TL;DR:</strong> 它把注意力线性化。" in html
    assert html.count("/feedback?t=") == 6 and "Unsubscribe" in html
    token = html.split("/feedback?t=", 1)[1].split('"', 1)[0]
    fb = verify(KEY, token.replace("%3D", "="))
    assert (fb.user, fb.paper_id, fb.action) == ("ann", "2511.00001", "up")


def test_text_and_markdown_carry_the_same_content() -> None:
    text, md = render_text(digest(), LINKS), render_markdown(digest(), LINKS)
    for out in (text, md):
        assert "TL;DR" in out and "https://arxiv.org/abs/2511.00002" in out
        assert out.count("/feedback?t=") == 6
    assert "score 4.00 ▰▰▰▰▰▰▰▰▰▰" in text and "score 2.00 ▰▰▰▰▰▱▱▱▱▱" in text


def test_json_is_machine_readable() -> None:
    data = json.loads(render_json(digest(), LINKS))
    assert data["title"] == "papersift digest — 2025-11-12 (ann)"
    assert [e["rank"] for e in data["entries"]] == [1, 2, 3]
    assert data["entries"][0]["tldr"] == "它把注意力线性化。"
    assert set(data["entries"][1]["feedback"]) == {"up", "down"}


def test_custom_template_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "mine.html"
    good.write_text("{% for e in d.entries %}<b>{{ e.paper.title }}</b>{% endfor %}")
    assert render_custom(good, digest()).startswith("<b>Paper &lt;1&gt;</b>")  # escaped
    bad = tmp_path / "bad.html"
    bad.write_text("line one\n{% for e in d.entries %}\n{{ e.title }\n")
    with pytest.raises(PapersiftError, match=rf"template {bad} line 3: .*: fix the template"):
        render_custom(bad, digest())
    with pytest.raises(PapersiftError, match="cannot read template|template .* failed"):
        render_custom(tmp_path / "missing.html", digest())


def test_an_edited_template_is_used_at_the_next_render(tmp_path: Path) -> None:
    mine = tmp_path / "mine.txt"
    mine.write_text("first {{ d.day }}")
    assert render_custom(mine, digest()) == "first 2025-11-12"
    mine.write_text("{% for e in d.entries %}")  # broken while the user edits it
    os.utime(mine, ns=(1, 1))  # a different mtime even on a coarse clock
    with pytest.raises(PapersiftError, match="fix the template"):
        render_custom(mine, digest())
    mine.write_text("second {{ d.day }}")
    os.utime(mine, ns=(2, 2))
    assert render_custom(mine, digest()) == "second 2025-11-12"


def test_the_init_files_channel_example_is_valid(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from papersift import config
    from papersift.deliver.channels import parse_channels

    example = "\n".join(line for line in config.CHANNEL_EXAMPLE.splitlines()
                        if not line.startswith(("Delivery", "Secrets", "`")))
    cfg = tmp_path / "c.toml"
    cfg.write_text(config.render_template() + "\n" + example)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/x")
    chans = parse_channels(config.load(cfg))
    assert [(c.name, c.type) for c in chans] == [("mail", "email"), ("lab-slack", "slack")]
    assert chans[1].url() == "https://hooks.slack.com/services/T/B/x"

from pathlib import Path

from rich.console import Console

from papersift.deliver.digest import Digest, Entry
from papersift.deliver.render import print_table, render_html, render_markdown, write_files
from papersift.records import Paper

HOSTILE = Paper(id="2511.00001", title='<script>alert(1)</script> "><img src=x onerror=alert(2)>',
                abstract="$\\mathcal{O}(n)$ attention", authors=["Eve <b>Mallory</b>", "[x](y)"],
                categories=["cs.CL"], announced="2025-11-12")


def digest() -> Digest:
    return Digest("default", "2025-11-12", [Entry(1, HOSTILE, 0.71, "keyword: <i>x</i>")],
                  candidates=300)


def test_html_shows_hostile_text_as_text() -> None:
    html = render_html(digest())
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Eve &lt;b&gt;Mallory&lt;/b&gt;" in html and "keyword: &lt;i&gt;x&lt;/i&gt;" in html
    assert 'href="https://arxiv.org/abs/2511.00001"' in html


def test_markdown_escapes_markup_in_paper_text() -> None:
    md = render_markdown(digest())
    assert "\\<script\\>" in md and "\\[x\\](y)" in md
    assert "[\\<script\\>alert(1)\\</script\\>" in md  # the link text, escaped
    assert "(https://arxiv.org/abs/2511.00001)" in md
    assert "1 of 300 papers announced on 2025-11-12" in md


def test_terminal_table_does_not_interpret_markup() -> None:
    console = Console(record=True, width=120, markup=False)
    print_table(digest(), console)
    text = console.export_text()
    assert "<script>alert(1)</script>" in text and "keyword: <i>x</i>" in text


def test_long_author_lists_are_shortened() -> None:
    many = Paper(id="2511.00002", title="Tech report", abstract="", authors=[
        f"Author {i}" for i in range(25)], categories=["cs.CL"])
    d = Digest("default", "2025-11-12", [Entry(1, many, 0.5, "r")], candidates=1)
    assert "Author 0, Author 1, Author 2, Author 3, Author 4, Author 5 et al. (25 authors)" \
        in render_markdown(d)
    assert "Author 6" not in render_html(d)


def test_empty_digest_note(tmp_path: Path) -> None:
    d = Digest("ann", "2025-11-16", note="no arXiv announcement on 2025-11-16 (a Sunday)")
    md, html = (p.read_text() for p in write_files(d, tmp_path))
    assert "no arXiv announcement" in md and "no arXiv announcement" in html
    assert (tmp_path / "ann" / "2025-11-16.md").exists()
    assert not list(tmp_path.rglob("*.tmp"))

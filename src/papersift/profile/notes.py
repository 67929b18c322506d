"""Markdown research notes (a file or a folder, e.g. an Obsidian vault or an exported Feishu
doc): arXiv links and cited titles become library papers, the prose an interest description.

Notes often mix Chinese and English. The embedding model reads English, and in such notes
the technical terms (“我们关注 linear attention 和 state space models”) are English anyway,
so the description keeps the Latin-script runs of the prose and drops the rest.
"""

from __future__ import annotations

import re
from pathlib import Path

from papersift.errors import ProfileError
from papersift.profile.arxiv_ids import ids_in_text
from papersift.profile.imported import Imported, read_text

SUFFIXES = (".md", ".markdown", ".txt")
MAX_DESCRIPTION = 2000  # characters; the embedding model reads ~256 tokens of it anyway

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
_LINK = re.compile(r"!?\[([^\]\n]*)\]\(([^)\s]*)[^)]*\)")
_URL = re.compile(r"https?://\S+|www\.\S+")
_QUOTED = re.compile(r"[“\"「《『]([^”\"」》』\n]{12,300})[”\"」》』]")
_EMPHASIS = re.compile(r"(?<![*_\w])[*_]{1,2}([^*_\n]{12,300})[*_]{1,2}(?![*_\w])")
_NON_LATIN = re.compile(r"[^\x00-\x7f\u00c0-\u024f]+")  # CJK and other scripts, CJK punctuation
_MARKUP = re.compile(r"^\s*(?:#+|[-*+>]|\d+[.)]|\[[ xX]\])\s*|[*_#|>~=]+")


def note_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
                      and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if path.is_file():
        return [path]
    raise ProfileError(f"notes {path} do not exist: give a Markdown file or a folder of them")


def read_notes(path: Path) -> Imported:
    files = note_files(path)
    if not files:
        raise ProfileError(f"no Markdown notes ({', '.join(SUFFIXES)}) under {path}: "
                           "give the folder that holds them")
    out = Imported()
    prose: list[str] = []
    for f in files:
        text, warnings = read_text(f, "notes file", "split it")
        out.warnings += warnings
        out.entries += 1
        out.ids += ids_in_text(text)
        text = _CODE.sub(" ", _FRONT_MATTER.sub("", text))
        for m in _LINK.finditer(text):
            if not ids_in_text(m.group(2)):
                out.cited.append(m.group(1))
        text = _URL.sub(" ", _LINK.sub(r"\1", text))
        out.cited += [m.group(1) for m in _QUOTED.finditer(text)]
        out.cited += [m.group(1) for m in _EMPHASIS.finditer(text)]
        # a list item or line that is just a title ("- Attention Is All You Need")
        out.cited += [s for line in text.splitlines()
                      if 3 <= len((s := _MARKUP.sub("", line).strip()).split()) <= 30]
        prose += _latin_runs(text)
    out.ids = list(dict.fromkeys(out.ids))
    out.cited = list(dict.fromkeys(c.strip() for c in out.cited if c.strip()))
    out.text = _description(prose)
    if not out.ids and not out.text:
        raise ProfileError(f"notes {path} hold no arXiv links and no prose papersift can read "
                           "(English or technical terms): add links like "
                           "https://arxiv.org/abs/2401.12345 or a few sentences")
    if not out.ids:
        out.warnings.append(f"notes {path}: no arXiv links; papers are matched by cited "
                            "titles and the prose becomes your interest description")
    return out


def _latin_runs(text: str) -> list[str]:
    runs = []
    for line in text.splitlines():
        for part in _NON_LATIN.split(_MARKUP.sub(" ", line)):
            part = " ".join(part.split()).strip(" ,.;:!?()[]-")
            if re.search(r"[A-Za-z]{2}", part):
                runs.append(part)
    return runs


def _description(runs: list[str]) -> str:
    out: list[str] = []
    size = 0
    for run in dict.fromkeys(runs):
        if size + len(run) > MAX_DESCRIPTION:
            break
        out.append(run)
        size += len(run) + 2
    return "; ".join(out)

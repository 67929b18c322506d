"""BibTeX and RIS files: each entry becomes an arXiv id, or a title to look up."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import bibtexparser
import rispy

from papersift.errors import ProfileError
from papersift.profile.arxiv_ids import ids_in_text, record_id
from papersift.profile.imported import Imported, read_text


def clean_title(raw: str) -> str:
    """A BibTeX/RIS title as plain text: no protective braces, LaTeX commands or spacing."""
    s = re.sub(r"\\[a-zA-Z]+\s*", " ", raw)
    return " ".join(s.replace("{", "").replace("}", "").split())


def _add(out: Imported, fields: dict[str, object], title: object, where: str) -> None:
    if pid := record_id(fields):
        out.ids.append(pid)
    elif isinstance(title, str) and clean_title(title):
        out.titles.append(clean_title(title))
    else:
        out.warnings.append(f"{where}: no arXiv id and no title: skipped")


def read_bibtex(path: Path) -> Imported:
    text, warnings = read_text(path, "BibTeX file", "split it, or export without abstracts")
    out = Imported(warnings=warnings)
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)  # we report failures
    try:
        lib = bibtexparser.parse_string(text)
    except Exception as e:  # the parser's internals fail in many ways
        raise ProfileError(f"{path} is not a readable BibTeX file ({type(e).__name__}): "
                           "check that it is a .bib export") from None
    for block in lib.failed_blocks:
        out.warnings.append(f"{path}:{block.start_line + 1}: malformed entry (unbalanced "
                            "braces or a missing comma?): skipped")
    for entry in lib.entries:
        out.entries += 1
        fields = {k: f.value for k, f in entry.fields_dict.items() if isinstance(f.value, str)}
        _add(out, fields, fields.get("title") or fields.get("Title"),
             f"{path}:{entry.start_line + 1} ({entry.key})")
    if not lib.entries and not lib.failed_blocks and text.strip():
        raise ProfileError(f"{path} holds no BibTeX entries: check that it is a .bib export")
    out.entries += len(lib.failed_blocks)
    return out


_TAG = re.compile(r"^([A-Z][A-Z0-9])  - ?(.*)$")


def read_ris(path: Path) -> Imported:
    text, warnings = read_text(path, "RIS file", "split it, or export without abstracts")
    out = Imported(warnings=warnings)
    block: list[str] = []
    start = 0
    for n, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        m = _TAG.match(line)
        if m and m.group(1) == "TY":
            if block:
                out.entries += 1
                out.warnings.append(f"{path}:{start}: entry has no `ER  -` line: skipped")
            block, start = [line], n
        elif block:
            block.append(line)
            if m and m.group(1) == "ER":
                out.entries += 1
                _ris_entry(out, block, f"{path}:{start}")
                block = []
        elif line.strip() and not line.startswith("\ufeff"):
            out.warnings.append(f"{path}:{n}: text outside an entry (no `TY  -` before it): "
                                "skipped")
    if block:
        out.entries += 1
        out.warnings.append(f"{path}:{start}: entry has no `ER  -` line: skipped")
    if not out.entries:
        raise ProfileError(f"{path} holds no RIS entries (`TY  -` … `ER  -`): check that it is "
                           "a .ris export")
    return out


def _ris_entry(out: Imported, block: list[str], where: str) -> None:
    try:
        records = rispy.loads("\n".join(block) + "\n")
    except Exception:  # rispy raises bare errors on odd tags
        records = []
    if not records:
        out.warnings.append(f"{where}: malformed entry: skipped")
        return
    r = records[0]
    fields = {k: v for k, v in r.items() if isinstance(v, str | list)}
    title = r.get("title") or r.get("primary_title") or r.get("translated_title")
    _add(out, fields, title, where)


def read_id_list(path: Path) -> Imported:
    """A text file of arXiv ids or URLs, one or more per line; other lines are reported."""
    text, warnings = read_text(path, "id file", "split it")
    out = Imported(warnings=warnings)
    for n, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        out.entries += 1
        found = ids_in_text(entry) or ids_in_text(f"arXiv:{entry}")
        if found:
            out.ids.extend(found)
        else:
            out.warnings.append(f"{path}:{n}: not an arXiv id or URL: {entry[:60]!r}")
    return out

"""Importers (ids, BibTeX, RIS, Markdown notes) and `papersift profile add`, re-synced."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papersift import config
from papersift.cli import main
from papersift.errors import ProfileError
from papersift.profile.bibfiles import read_bibtex, read_id_list, read_ris
from papersift.profile.imported import Imported
from papersift.profile.notes import read_notes
from papersift.profile.sources import add_source, parse_source
from papersift.records import Paper
from papersift.store import Store
from tests.arxiv_server import DAY1, ArxivServer, atom_entry, atom_feed
from tests.pg import both_stores

pytest_plugins = ["tests.arxiv_fixtures"]

MAMBA = Paper("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
              "Foundation models ... selective state space models.", ["Albert Gu", "Tri Dao"],
              ["cs.LG"], announced="2023-12-04")
RING = Paper("2310.01889", "Ring Attention with Blockwise Transformers for Near-Infinite "
             "Context", "Transformers have emerged ... long sequences.",
             ["Hao Liu", "Matei Zaharia", "Pieter Abbeel"], ["cs.CL"], announced="2023-10-04")

BIB = r"""
@article{vaswani, title={{Attention} Is All You Need}, eprint={1706.03762v7},
  archivePrefix={arXiv}, author={Vaswani, Ashish and others}}
@inproceedings{gu, title = {Mamba: Linear-Time Sequence Modeling},
  url = {https://arxiv.org/abs/2312.00752v2}}
@misc{palm, doi = {10.48550/arXiv.2305.10403}, title = {PaLM 2 Technical Report}}
@article{journal, journal = {arXiv preprint arXiv:2401.04088}, title={Mixtral of Experts}}
@article{ring, title = {Ring {A}ttention with Blockwise Transformers for
  Near-Infinite Context}, author = {Liu, Hao}}
@article{broken, title = {unbalanced {brace}, year = 2020}
@book{notonarxiv, title = {Pattern Recognition and Machine Learning}}
"""


@pytest.fixture
def env(store_url: str) -> dict[str, str]:
    return {"PAPERSIFT_STORE_URL": store_url, "PAPERSIFT_ARXIV_OFFLINE": "1"}


@pytest.fixture
def store(env: dict[str, str]) -> Store:
    s = Store(env["PAPERSIFT_STORE_URL"])
    with s.begin() as conn:
        s.upsert_papers(conn, [MAMBA, RING])
    return s


def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env=env)
    return r.exit_code, r.stdout, r.stderr


def test_bibtex_ids_from_every_field_and_titles_as_fallback(tmp_path: Path) -> None:
    bib = tmp_path / "lib.bib"
    bib.write_text(BIB)
    got = read_bibtex(bib)
    assert got.ids == ["1706.03762", "2312.00752", "2305.10403", "2401.04088"]
    assert got.titles == ["Ring Attention with Blockwise Transformers for Near-Infinite Context",
                          "Pattern Recognition and Machine Learning"]
    assert got.entries == 7
    assert len(got.warnings) == 1 and re.match(r".*lib\.bib:\d+: malformed entry", got.warnings[0])


@both_stores
def test_profile_add_bibtex_resyncs_without_duplicates(tmp_path: Path, env: dict[str, str],
                                                       store: Store) -> None:
    bib = tmp_path / "lib.bib"
    bib.write_text(BIB)
    code, out, errs = cli(env, "profile", "add", str(bib))
    assert code == 0, errs
    assert "7 entries → 5 papers (+5 new, −0 gone); 1 matched by title; 1 not found" in out
    assert "malformed entry" in errs and "Pattern Recognition" in errs
    ids = {e.paper_id for e in store.library("default")}
    assert ids == {"1706.03762", "2312.00752", "2305.10403", "2401.04088", "2310.01889"}

    code, out, _ = cli(env, "profile", "add", str(bib))  # unchanged file: nothing changes
    assert "(+0 new, −0 gone)" in out
    assert len(store.library("default")) == 5

    bib.write_text(BIB.replace("2305.10403", "2402.00001"))  # one paper swapped
    cli(env, "profile", "add", str(bib))
    ids = {e.paper_id for e in store.library("default")}
    assert "2305.10403" not in ids and "2402.00001" in ids and len(ids) == 5


def test_a_paper_two_sources_hold_survives_removing_one(tmp_path: Path, env: dict[str, str],
                                                        store: Store) -> None:
    bib, txt = tmp_path / "a.bib", tmp_path / "ids.txt"
    bib.write_text("@misc{m, eprint={2312.00752}, archivePrefix={arXiv}}\n")
    txt.write_text("https://arxiv.org/pdf/2312.00752v1.pdf\n2310.01889  # ring\n")
    assert cli(env, "profile", "add", str(bib), str(txt))[0] == 0
    assert len(store.library("default")) == 2
    code, out, _ = cli(env, "profile", "remove", str(bib))
    assert code == 0 and "removed" in out
    assert {e.paper_id for e in store.library("default")} == {"2312.00752", "2310.01889"}
    cli(env, "profile", "remove", str(txt))
    assert store.library("default") == []


def test_command_line_ids_accumulate(env: dict[str, str], store: Store) -> None:
    cli(env, "profile", "add", "2312.00752")
    cli(env, "profile", "add", "https://arxiv.org/abs/2310.01889v2")
    assert {e.paper_id for e in store.library("default")} == {"2312.00752", "2310.01889"}
    code, _, errs = cli(env, "profile", "add", "not-a-source")
    assert code == 1
    assert errs.strip() == ("error: not-a-source is not a file, a folder, an arXiv id/URL or "
                            "zotero://user/<id>: check it")


def test_semantic_scholar_and_dblp_entries_give_their_arxiv_id(tmp_path: Path) -> None:
    """They cite a preprint as journal ArXiv / CoRR with volume abs/<id>; only those venues."""
    bib = tmp_path / "s2.bib"
    bib.write_text("@article{Gu2023MambaLS, title={Mamba: Linear-Time Sequence Modeling with "
                   "Selective State Spaces}, journal={ArXiv}, volume={abs/2312.00752}}\n"
                   "@article{dblp, title={Ring Attention}, journal={CoRR}, "
                   "volume={abs/2310.01889}}\n"
                   "@article{other, title={Not a Preprint}, journal={Phys. Rev.}, "
                   "volume={abs/2312.00753}}\n")
    got = read_bibtex(bib)
    assert got.ids == ["2312.00752", "2310.01889"] and got.titles == ["Not a Preprint"]


def test_latin1_bibtex_is_read_with_a_warning(tmp_path: Path) -> None:
    bib = tmp_path / "latin.bib"
    bib.write_bytes("@article{a, title={Schölkopf's kernels}, eprint={2401.00001}}\n"
                    .encode("latin-1"))
    got = read_bibtex(bib)
    assert got.ids == ["2401.00001"]
    assert "not UTF-8" in got.warnings[0] and "Latin-1" in got.warnings[0]


def test_huge_and_unreadable_files_are_one_line_errors(tmp_path: Path,
                                                       env: dict[str, str]) -> None:
    big = tmp_path / "huge.bib"
    with open(big, "wb") as f:
        f.truncate(50 * 2**20)  # sparse: instant
    with pytest.raises(ProfileError, match=r"huge\.bib is 50 MB, too large for a BibTeX file "
                                           r"\(at most 32 MB\): split it"):
        read_bibtex(big)
    junk = tmp_path / "junk.ris"
    junk.write_text("this is not RIS\n")
    code, _, errs = cli(env, "profile", "add", str(junk))
    assert code == 1 and "holds no RIS entries" in errs and errs.count("\n") == 1


RIS = """TY  - JOUR
TI  - Attention is all you need
AU  - Vaswani, Ashish
UR  - https://arxiv.org/abs/1706.03762
ER  -

TY  - CPAPER
T1  - Ring Attention with Blockwise Transformers for Near-Infinite Context
ER  -

TY  - JOUR
DO  - 10.48550/arXiv.2305.10403
TI  - PaLM 2 Technical Report

TY  - GEN
N1  - arXiv:2401.04088
ER  -
stray line
""".replace("ER  -\n\nTY  - CPAPER", "ER  - \n\nTY  - CPAPER")  # both forms occur


def test_ris_entries_and_their_problems(tmp_path: Path) -> None:
    ris = tmp_path / "lib.ris"
    ris.write_text(RIS)
    got = read_ris(ris)
    assert got.ids == ["1706.03762", "2401.04088"]
    assert got.titles == ["Ring Attention with Blockwise Transformers for Near-Infinite Context"]
    assert got.entries == 4
    assert [w.split(": ", 1)[1] for w in got.warnings] == [
        "entry has no `ER  -` line: skipped",
        "text outside an entry (no `TY  -` before it): skipped"]


def test_id_list_reports_bad_lines(tmp_path: Path) -> None:
    f = tmp_path / "ids.txt"
    f.write_text("2312.00752\n# comment\n\narXiv:2310.01889v3 and 2401.04088\nhello\n")
    got = read_id_list(f)
    assert got.ids == ["2312.00752", "2310.01889"]
    assert got.warnings == [f"{f}:5: not an arXiv id or URL: 'hello'"]


NOTE = """---
tags: [reading]
---
# 长上下文笔记

我们最近关注 linear attention 和 state space models 的 scaling 行为，尤其是 KV cache 压缩。

- 论文：[Mamba](https://arxiv.org/abs/2312.00752) 很重要
- “Ring Attention with Blockwise Transformers for Near-Infinite Context” 值得一读

```python
import torch  # code is not prose
```
"""


@both_stores
def test_mixed_chinese_english_notes(tmp_path: Path, env: dict[str, str], store: Store) -> None:
    vault = tmp_path / "vault"
    (vault / ".obsidian").mkdir(parents=True)
    (vault / ".obsidian" / "cache.md").write_text("https://arxiv.org/abs/2401.99999")
    (vault / "long-context.md").write_text(NOTE)
    got = read_notes(vault)
    assert got.ids == ["2312.00752"]  # the hidden folder is not notes
    assert "linear attention" in got.text and "state space models" in got.text
    assert "KV cache" in got.text and "torch" not in got.text
    assert not re.search(r"[\u4e00-\u9fff]", got.text)

    code, out, errs = cli(env, "profile", "add", str(vault))
    assert code == 0, errs
    assert "1 entry → 2 papers" in out and "1 matched by title" in out
    code, out, _ = cli(env, "profile", "show")
    assert "description: linear attention; state space models; scaling; KV cache" in out


def test_notes_find_papers_linked_from_the_pages_researchers_share(tmp_path: Path) -> None:
    note = tmp_path / "daily.md"
    note.write_text("今天 HF 热榜 https://huggingface.co/papers/2401.04088 ，讨论见 "
                    "https://www.alphaxiv.org/overview/2312.00752v2 和 [Cool Papers]"
                    "(https://papers.cool/arxiv/2310.01889)。第 2401.12345 页不是论文。\n")
    assert read_notes(note).ids == ["2401.04088", "2312.00752", "2310.01889"]


def test_notes_without_links_or_prose(tmp_path: Path) -> None:
    prose = tmp_path / "p.md"
    prose.write_text("我关注 retrieval-augmented generation 和 reasoning。\n")
    got = read_notes(prose)
    assert got.ids == [] and got.text == "retrieval-augmented generation; reasoning"
    assert "no arXiv links" in got.warnings[0]
    empty = tmp_path / "e.md"
    empty.write_text("只有中文。\n")
    with pytest.raises(ProfileError, match="hold no arXiv links and no prose"):
        read_notes(empty)


class TitleServer(ArxivServer):
    """The arXiv server, also answering title searches (search_query=ti:"…")."""

    def _api(self, query: dict[str, str]) -> bytes:
        if "search_query" not in query:
            return super()._api(query)
        words = query["search_query"].removeprefix('ti:"').removesuffix('"').lower().split()
        hits = [r for rs in self.days.values() for r in rs
                if all(w in r["title"].lower() for w in words)]
        return atom_feed([atom_entry(r) for r in hits[: int(query.get("max_results", "10"))]])


def test_titles_missing_from_the_store_are_found_on_arxiv(
        tmp_path: Path, arxiv_days: dict[str, list[dict]], arxiv_env: dict[str, str]) -> None:
    known = arxiv_days[DAY1][3]
    bib = tmp_path / "t.bib"
    bib.write_text(f"@article{{x, title = {{{known['title'].upper()}}}}}\n"
                   "@article{y, title = {A Title arXiv Has Never Seen}}\n")
    with TitleServer(arxiv_days) as server:
        env = {**arxiv_env, "PAPERSIFT_ARXIV_API_URL": f"{server.url}/api/query",
               "PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}"}
        settings = config.load(None, env=env)
        store = Store(settings.store_url)
        report = add_source(settings, store, "default", parse_source(str(bib)))
        words = " ".join(re.sub(r"[^\w\s-]", " ", known["title"].upper()).split())
        assert [r.query["search_query"] for r in server.requests_to("/api/query")][:2] == [
            f'ti:"{words}"', 'ti:"A Title arXiv Has Never Seen"']
    assert report.by_title == 1 and report.unresolved == ["A Title arXiv Has Never Seen"]
    assert [e.paper_id for e in store.library("default")] == [known["id"]]
    assert store.get_papers([known["id"]])[known["id"]].title == known["title"]


# --- fuzzing: whatever the file holds, an import either succeeds with warnings or fails with
# one ProfileError; it never crashes and never invents ids.

_FUZZ = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
_pieces = st.sampled_from(["@article{", "@misc{k,", "}", "{", "title = ", "eprint = ",
                           "{2401.12345}", "\"", ",", "\n", "arXiv:2312.00752", "@comment{",
                           "TY  - JOUR\n", "ER  - \n", "TI  - ", "UR  - ", "\x00", "é", "\\'"])
_text = st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=40).map("".join)


@pytest.mark.parametrize("suffix, reader", [(".bib", read_bibtex), (".ris", read_ris)])
@_FUZZ
@given(body=_text)
def test_fuzzed_bibtex_and_ris(tmp_path: Path, suffix: str, reader: Callable[[Path], Imported],
                               body: str) -> None:
    f = tmp_path / f"fuzz{suffix}"
    f.write_bytes(body.encode("utf-8", "surrogatepass"))
    try:
        got = reader(f)
    except ProfileError as e:
        assert "\n" not in str(e)
        return
    assert set(got.ids) <= {"2401.12345", "2312.00752"}
    assert got.entries >= len(got.ids) + len(got.titles)


def test_config_sources_and_a_vanished_file_keep_the_last_import(
        tmp_path: Path, env: dict[str, str], store: Store) -> None:
    (tmp_path / "papers").mkdir()
    bib = tmp_path / "papers" / "lib.bib"
    bib.write_text(BIB)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[profile]\nsources = ["papers/lib.bib"]\nmuted = ["robotics"]\n'
                   'ids = ["2312.00752", "2501.00001"]\n')
    code, out, errs = cli(env, "--config", str(cfg), "profile", "sync")
    assert code == 0, errs
    assert f"{bib}: 7 entries → 5 papers" in out  # relative to the config file
    bib.unlink()
    code, out, errs = cli(env, "--config", str(cfg), "profile", "sync")
    assert code == 0 and "its last import is kept" in errs and "does not exist" in errs
    assert len(store.library("default")) == 6  # the config's ids too
    code, out, _ = cli(env, "--config", str(cfg), "profile", "show")
    assert "muted: robotics" in out
    assert any(line.startswith("       2  config (synced ") for line in out.splitlines())


@both_stores
def test_follow_finds_the_author_however_the_name_is_typed(env: dict[str, str],
                                                           store: Store) -> None:
    """Lower case, a typographic apostrophe, missing accents (on capitals too): `profile
    follow` still shows the people the store knows by that name, with their co-authors."""
    with store.begin() as conn:
        store.upsert_papers(conn, [
            Paper("2401.00011", "A", "a", ["Ciarán O'Quill", "Hao Liu"]),
            Paper("2401.00012", "B", "b", ["Ciarán O'Quill"]),
            Paper("2401.00013", "C", "c", ["Jürgen Schölkopf"]),
            Paper("2401.00014", "D", "d", ["ÉMILE ÅSTRÖM"])])
    code, out, errs = cli(env, "profile", "follow", "ciaran o’quill", "tri dao",
                          "Jurgen Scholkopf", "emile astrom", "50%_off")
    assert code == 0, errs
    assert "similar names in the store (follow them too if they are the same person): " \
           "Ciarán O'Quill (2 papers, with Hao Liu)" in out
    assert "Tri Dao (1 paper, with Albert Gu)" in out
    assert "Jürgen Schölkopf (1 paper)" in out
    assert "ÉMILE ÅSTRÖM (1 paper)" in out
    assert "following 50%_off (no paper in the store names them exactly yet)" in out

"""Every parser of outside input, fuzzed: whatever arrives, the result is either a value or
the project's own error with one line naming the problem and the fix — never a crash.

BibTeX and RIS are fuzzed in tests/test_profile_import.py; the web API in
tests/test_web_api_fuzz.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from papersift import config
from papersift.deliver.channels import parse_channels
from papersift.errors import PapersiftError
from papersift.profile.notes import read_notes
from papersift.records import parse_arxiv_id
from papersift.sources.api import parse_atom
from papersift.sources.arxiv_xml import MalformedXML
from papersift.sources.dump import ImportReport, import_dump
from papersift.sources.oai import parse_page
from papersift.sources.rss import parse_feed
from papersift.store import Store
from papersift.tokens import sign, verify
from tests.arxiv_server import DAY1, atom_entry, atom_feed, oai_response, revised, rss_feed
from tests.arxiv_server import _oai_record as oai_record

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def clean_error(e: BaseException) -> None:
    """The failure is one of ours and reads as one line."""
    assert isinstance(e, PapersiftError | MalformedXML), repr(e)
    assert str(e) and "\n" not in str(e), str(e)


def outcome(parse: Callable[[], object]) -> object:
    try:
        return parse()
    except (PapersiftError, MalformedXML) as e:
        clean_error(e)
        return None


# --- arXiv XML: real documents, then cut, spliced and corrupted -------------------------

_XML_PIECES = [b"<", b">", b"</", b"/>", b"&", b"&amp;", b"&#0;", b"&lt;", b"\x00", b"\xff",
               b"<![CDATA[", b"]]>", b'"', b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]>", b"&a;",
               b"<record>", b"</record>", b"<item>", b"<entry>", b"<id>", b"</id>",
               b"<version version='v7'>", b"<datestamp>", b"2024-02-30", b"\xe4\xb8\xad"]


def _mutate(doc: bytes) -> st.SearchStrategy[bytes]:
    edits = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 40),
                               st.one_of(st.sampled_from(_XML_PIECES), st.binary(max_size=6))),
                     max_size=6)

    def apply(steps: list[tuple[float, int, bytes]]) -> bytes:
        out = doc
        for where, cut, piece in steps:
            i = int(where * len(out))
            out = out[:i] + piece + out[i + cut:]
        return out

    return st.one_of(edits.map(apply), st.floats(0, 1).map(lambda f: doc[:int(f * len(doc))]))


@pytest.fixture(scope="module")
def documents(arxiv_records: dict[str, list[dict]]) -> dict[str, bytes]:
    records = arxiv_records[DAY1][:3]
    two = [records[0], revised(records[1], DAY1)]
    return {
        "oai": oai_response({"verb": "ListRecords"}, "<ListRecords>" + "".join(
            oai_record(r, p, False) for r, p in zip(two, ("arXivRaw", "arXiv"), strict=True))
            + '<resumptionToken cursor="0">tok</resumptionToken></ListRecords>'),
        "rss": rss_feed(["cs.CL"], DAY1, [(records[0], "new"), (records[1], "replace"),
                                          (records[2], "cross")]),
        "atom": atom_feed([atom_entry(r) for r in two]),
    }


PARSERS = {"oai": parse_page, "rss": parse_feed, "atom": parse_atom}


@pytest.mark.parametrize("kind", list(PARSERS))
@FUZZ
@given(data=st.data())
def test_fuzzed_arxiv_xml(documents: dict[str, bytes], kind: str, data: st.DataObject) -> None:
    body = data.draw(st.one_of(_mutate(documents[kind]), st.binary(max_size=300)))
    outcome(lambda: PARSERS[kind](body))


def test_real_documents_parse(documents: dict[str, bytes]) -> None:
    """The fuzzing starts from documents the parsers read in full."""
    assert len(parse_page(documents["oai"]).papers) == 2
    assert len(parse_feed(documents["rss"]).items) == 3
    assert len(parse_atom(documents["atom"]).papers) == 2


# --- dump JSON lines ----------------------------------------------------------------------

_any = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
_FIELDS = ["id", "title", "abstract", "authors", "authors_parsed", "categories", "comments",
           "journal-ref", "doi", "license", "versions", "update_date", "announced"]


@pytest.fixture(scope="module")
def dump_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'dump.sqlite'}")
    yield store
    store.close()


@FUZZ
@example(base=0, changes={"title": [None]}, junk=[])  # crashed import-dump once
@example(base=0, changes={"authors_parsed": [[1, 2]], "versions": 5}, junk=[])
@given(base=st.sampled_from([0, 1, 2]), changes=st.dictionaries(st.sampled_from(_FIELDS), _any,
                                                                  max_size=4),
       junk=st.lists(st.binary(max_size=30), max_size=2))
def test_fuzzed_dump_lines(dump_store: Store, arxiv_records: dict[str, list[dict]],
                           tmp_path: Path, base: int, changes: dict, junk: list[bytes]) -> None:
    record = {**arxiv_records[DAY1][base], **changes}
    f = tmp_path / "fuzz.jsonl"
    # (\r counts as a line break too)
    lines = [json.dumps(record).encode(),
             *(j.replace(b"\n", b" ").replace(b"\r", b" ") for j in junk)]
    f.write_bytes(b"\n".join(lines) + b"\n")
    report = outcome(lambda: import_dump(dump_store, f))
    if isinstance(report, ImportReport):  # every line is either imported or reported
        assert report.papers + len(report.bad) == len(lines)
        assert all("\n" not in b.reason for b in report.bad)


# --- Markdown notes -----------------------------------------------------------------------

_NOTE_PIECES = st.sampled_from([
    "# ", "- ", "* ", "> ", "[", "](", ")", "https://arxiv.org/abs/2401.12345", "arXiv:2312.00752",
    "“", "”", "**", "_", "```", "\n", "---\ntitle: x\n---\n", "中文笔记",
    "Attention Is All You Need", "[[wiki link]]", "|a|b|", "\x00", "\ufeff", "<!-- -->",
    "2401.99999v3"])


@FUZZ
@given(body=st.lists(st.one_of(_NOTE_PIECES, st.text(max_size=10)), max_size=40).map("".join),
       latin1=st.booleans())
def test_fuzzed_markdown_notes(tmp_path: Path, body: str, latin1: bool) -> None:
    f = tmp_path / "note.md"
    f.write_bytes(body.encode("latin-1", "replace") if latin1
                  else body.encode("utf-8", "surrogatepass"))
    notes = outcome(lambda: read_notes(f))
    if notes is not None:
        assert all(isinstance(i, str) and parse_arxiv_id(i)[0] == i for i in notes.ids)


# --- config TOML --------------------------------------------------------------------------

_keys = [(s, k) for s, keys in config.SCHEMA.items() for k in keys]
_toml_scalar = (st.booleans() | st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6)
                | st.text(max_size=10))
_toml_value = _toml_scalar | st.lists(_toml_scalar, max_size=3)
_TOML_JUNK = st.sampled_from(["[", "]", "[[channel]]", "=", '"', "'''", "\n", "x = ", "1979-05-27",
                              "inf", "{a = 1}", "[arxiv]\n", "[nonsense]\n", "\x00"])


def _render(tables: dict[str, dict[str, object]]) -> str:
    return "".join(f"[{s}]\n" + "".join(f"{k} = {config._toml_value(v)}\n"
                                         for k, v in kv.items()) for s, kv in tables.items())


_channel = st.dictionaries(
    st.sampled_from(["name", "type", "url", "to", "path", "users", "max_messages", "format",
                     "security", "url_env", "password_file", "template", "bogus"]),
    _toml_value, max_size=5)


@FUZZ
@example(picks=[], channels=[{"type": []}], junk="")  # crashed channel parsing once
@given(picks=st.lists(st.tuples(st.sampled_from(_keys), _toml_value), max_size=4),
       channels=st.lists(_channel, max_size=2),
       junk=st.lists(st.one_of(_TOML_JUNK, st.text(max_size=6)), max_size=6).map("".join))
def test_fuzzed_config(tmp_path: Path, picks: list, channels: list[dict], junk: str) -> None:
    tables: dict[str, dict[str, object]] = {}
    for (section, key), value in picks:
        tables.setdefault(section, {})[key] = value
    text = _render(tables) + "".join(
        "[[channel]]\n" + "".join(f"{k} = {config._toml_value(v)}\n" for k, v in c.items())
        for c in channels)
    for body in (text, junk + text, text + junk):
        f = tmp_path / "config.toml"
        f.write_text(body, encoding="utf-8", errors="surrogatepass")
        loaded = outcome(lambda f=f: config.load(f, env={}))
        if isinstance(loaded, config.Settings):
            outcome(lambda s=loaded: parse_channels(s))


# --- feedback tokens and arXiv ids --------------------------------------------------------

KEY = b"fuzz-key"


@FUZZ
@given(token=st.one_of(st.text(max_size=60), st.builds(
    lambda t, i, c: t[:i] + c + t[i + 1:],
    st.just(sign(KEY, "ann", "2401.12345", "up")), st.integers(0, 80), st.text(max_size=2))))
def test_fuzzed_feedback_tokens(token: str) -> None:
    got = outcome(lambda: verify(KEY, token))
    assert got is None or (got.user, got.paper_id) == ("ann", "2401.12345")


@FUZZ
@given(raw=st.one_of(st.text(max_size=40), st.from_regex(
    r"(arXiv:|https?://arxiv\.org/(abs|pdf)/)?[a-z\-]{0,8}/?\d{0,5}\.?\d{0,6}(v\d{0,3})?",
    fullmatch=True)))
def test_fuzzed_arxiv_ids(raw: str) -> None:
    got = outcome(lambda: parse_arxiv_id(raw))
    if got is not None:
        pid, version = got
        assert pid and not any(c.isspace() for c in pid) and (version or 1) >= 1
        assert parse_arxiv_id(pid) == (pid, None)  # the normal form reads as itself

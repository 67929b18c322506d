import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from papersift.cli import main
from papersift.errors import SourceError
from papersift.sources.dump import import_dump
from papersift.store import Store
from papersift.store import schema as t
from tests.pg import both_stores


def real_lines(src: Path, n: int) -> list[str]:
    with open(src) as f:
        return [next(f) for _ in range(n)]


def table_counts(store: Store) -> dict[str, int]:
    with store.begin() as conn:
        return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (t.papers, t.versions, t.listings)}


@both_stores
def test_import_reports_bad_lines_by_number_and_keeps_the_rest(
        tmp_path: Path, shared_day_dump: Path, store_url: str) -> None:
    lines = real_lines(shared_day_dump, 30)
    junk = ["{not json\n", "\n", '{"id": "nonsense", "title": "x"}\n', '{"id": "2501.00001"}\n',
            "[1, 2]\n"]
    bad = [*lines[:10], *junk, *lines[10:]]
    dump = tmp_path / "d.jsonl.gz"
    with gzip.open(dump, "wt") as f:
        f.writelines(bad)
    res = CliRunner().invoke(main, ["import-dump", str(dump)],
                             env={"PAPERSIFT_STORE_URL": store_url})
    assert res.exit_code == 0, res.output
    assert "imported 30 papers" in res.output and "skipped 5 bad lines" in res.output
    for n, why in [(11, "not JSON"), (12, "empty line"), (13, "invalid arXiv id 'nonsense'"),
                   (14, "missing 'title'"), (15, "not a JSON object")]:
        assert f"{dump}:{n}: skipped: {why}" in res.output
    store = Store(store_url)
    assert table_counts(store)["papers"] == 30
    store.close()


@both_stores
def test_rerun_is_idempotent(store_url: str, shared_day_dump: Path) -> None:
    store = Store(store_url)
    first = import_dump(store, shared_day_dump)
    before = table_counts(store)
    second = import_dump(store, shared_day_dump)
    assert first.papers == second.papers > 300
    assert table_counts(store) == before
    assert before["listings"] == first.listings
    store.close()


@both_stores
def test_newer_version_updates_the_record_and_keeps_history(
        tmp_path: Path, shared_day_dump: Path, store_url: str) -> None:
    rec = json.loads(real_lines(shared_day_dump, 1)[0])
    store = Store(store_url)
    dump = tmp_path / "d.jsonl"
    dump.write_text(json.dumps(rec) + "\n")
    import_dump(store, dump)
    newer = dict(rec, title="A revised title", versions=rec["versions"] + [
        {"version": f"v{len(rec['versions']) + 1}", "created": "Mon, 1 Dec 2025 10:00:00 GMT"}])
    dump.write_text(json.dumps(newer) + "\n")
    import_dump(store, dump)
    p = store.get_papers([rec["id"]])[rec["id"]]
    assert p.title == "A revised title" and p.version == len(rec["versions"]) + 1
    assert p.announced == rec["announced"]  # the first listing day stays
    assert table_counts(store)["papers"] == 1
    assert table_counts(store)["versions"] == len(newer["versions"])
    store.close()


@both_stores
def test_truncated_gzip_imports_nothing(tmp_path: Path, shared_day_dump: Path,
                                        store_url: str) -> None:
    good = tmp_path / "good.jsonl.gz"
    with gzip.open(good, "wt") as f:
        f.writelines(real_lines(shared_day_dump, 200))
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    store = Store(store_url)
    with pytest.raises(SourceError, match="truncated or not gzip.*nothing was imported"):
        import_dump(store, cut)
    assert store.count_papers() == 0
    store.close()


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["import-dump", str(tmp_path / "nope.jsonl")],
                             env={"PAPERSIFT_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}"})
    assert res.exit_code == 1
    assert "does not exist: check the path" in res.output
    assert len(res.output.strip().splitlines()) == 1

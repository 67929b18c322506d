"""A full disk or a read-only store: one clean line naming the problem and the fix, no
corruption (SQLite's integrity_check), nothing stored lost; the harvest resumes once the
disk has room again."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from papersift.sources.dump import import_dump
from papersift.store import Store
from tests.arxiv_server import DAY1, DAY2
from tests.reliability.trials import IngestTrials, Stores, compare, snapshot


def papersift(args: list[str], env: dict[str, str],
              preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "papersift", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, preexec_fn=preexec)


def file_limit(size: int) -> Callable[[], None]:
    """In the child: files may not grow past `size` bytes, as on a full disk (write fails
    with EFBIG instead of the process dying of SIGXFSZ)."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as con:
        return con.execute("PRAGMA integrity_check").fetchone()[0]


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1, (res.returncode, res.stderr[-3000:])
    assert lines[0].startswith("error: ") and "Traceback" not in res.stderr
    return lines[0]


@pytest.fixture
def dumps(tmp_path: Path, arxiv_records: dict[str, list[dict]]) -> dict[str, Path]:
    out = {}
    for day in (DAY1, DAY2):
        out[day] = tmp_path / f"{day}.jsonl"
        out[day].write_text("".join(json.dumps(r) + "\n" for r in arxiv_records[day]))
    return out


def test_disk_full_during_import_is_one_clean_line_and_loses_nothing(
        stores: Stores, dumps: dict[str, Path], tmp_path: Path) -> None:
    url = stores.new("full-import")
    store = Store(url)
    import_dump(store, dumps[DAY1])
    store.close()
    before = snapshot(url)
    db = stores.path(url)
    res = papersift(["import-dump", str(dumps[DAY2])], {"PAPERSIFT_STORE_URL": url},
                    file_limit(40_000))  # the WAL grows past it
    line = one_line_error(res)
    assert "disk" in line and "free space" in line, line
    assert integrity(db) == "ok"
    assert snapshot(url) == before  # the import is one transaction: nothing half-done
    res = papersift(["import-dump", str(dumps[DAY2])], {"PAPERSIFT_STORE_URL": url})
    assert res.returncode == 0, res.stderr  # with room again, it goes through


def test_disk_full_mid_harvest_resumes_to_the_clean_result(
        ingest_trials: IngestTrials, stores: Stores) -> None:
    url = stores.new("full-harvest")
    env = {**ingest_trials.env, "PAPERSIFT_STORE_URL": url}
    db = stores.path(url)
    res = papersift(ingest_trials.argv("harvest"), env, file_limit(200_000))
    line = one_line_error(res)
    assert "disk" in line and "free space" in line, line
    assert integrity(db) == "ok"
    partial = snapshot(url)["papers"]
    assert 0 < len(partial) < len(ingest_trials.clean["harvest"]["papers"])  # pages kept
    res = papersift(ingest_trials.argv("harvest"), env)
    assert res.returncode == 0 and "resumed" in res.stdout, res.stdout + res.stderr
    assert all(d.clean for d in compare(ingest_trials.clean["harvest"], snapshot(url)).values())


@pytest.fixture
def store_folder(tmp_path: Path) -> Iterator[tuple[Path, Callable[[bool], None]]]:
    """A folder for the store and a switch making it read-only (True) or writable again:
    permissions for a normal user; root writes anywhere, so a tmpfs remounted read-only."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        def chmod(ro: bool) -> None:
            for f in folder.iterdir():
                f.chmod(0o444 if ro else 0o644)
            folder.chmod(0o555 if ro else 0o755)
        yield folder, chmod
        chmod(False)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("as root, a read-only store needs a read-only mount, and mount failed")

    def remount(ro: bool) -> None:
        subprocess.run(["mount", "-o", f"remount,{'ro' if ro else 'rw'}", str(folder)],
                       check=True)
    try:
        yield folder, remount
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_read_only_store_is_one_clean_line_and_stays_intact(
        store_folder: tuple[Path, Callable[[bool], None]], dumps: dict[str, Path]) -> None:
    folder, read_only = store_folder
    db = folder / "store.sqlite"
    url = f"sqlite:///{db}"
    store = Store(url)
    import_dump(store, dumps[DAY1])
    store.close()
    before = snapshot(url)
    read_only(True)
    res = papersift(["import-dump", str(dumps[DAY2])], {"PAPERSIFT_STORE_URL": url})
    line = one_line_error(res)
    assert "read-only" in line and "permissions" in line, line
    read_only(False)
    assert integrity(db) == "ok"
    assert snapshot(url) == before

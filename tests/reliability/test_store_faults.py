"""A full disk (a real one: a small tmpfs filled up, ENOSPC), a write refused with room to
spare (a file-size limit, EFBIG) or a read-only store: one clean line naming the problem
and the fix, no corruption (SQLite's integrity_check), nothing stored lost; the import and
the harvest go through (resume) once the disk has room again."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def test_write_refused_with_room_to_spare_is_not_called_a_full_disk(
        stores: Stores, dumps: dict[str, Path]) -> None:
    """A file-size limit (as a quota) refuses the write while the disk has room: the line
    must not send the user hunting for space, and the import stays all or nothing."""
    url = stores.new("limited-import")
    store = Store(url)
    import_dump(store, dumps[DAY1])
    store.close()
    before = snapshot(url)
    db = stores.path(url)
    res = papersift(["import-dump", str(dumps[DAY2])], {"PAPERSIFT_STORE_URL": url},
                    file_limit(40_000))  # the WAL grows past it
    line = one_line_error(res)
    assert "MiB free" in line and "file-size limit" in line and "full" not in line, line
    assert integrity(db) == "ok"
    assert snapshot(url) == before  # the import is one transaction: nothing half-done
    res = papersift(["import-dump", str(dumps[DAY2])], {"PAPERSIFT_STORE_URL": url})
    assert res.returncode == 0, res.stderr  # with room again, it goes through


@contextmanager
def tmpfs(folder: Path, size: str, why: str) -> Iterator[None]:
    """A tmpfs of `size` mounted on `folder` for the block; the test is skipped (`why` it
    needs one) where mounting is not permitted (not root, or a container without the
    capability)."""
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip(f"{why}, and mount failed")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


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

    def remount(ro: bool) -> None:
        subprocess.run(["mount", "-o", f"remount,{'ro' if ro else 'rw'}", str(folder)],
                       check=True)
    with tmpfs(folder, "16m", "as root, a read-only store needs a read-only mount"):
        yield folder, remount


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


class SmallDisk:
    """A 4 MiB filesystem for the store, filled up to a few bytes by a filler file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.filler = folder / "filler"

    def room(self) -> int:
        return shutil.disk_usage(self.folder).free

    def fill(self, leave: int) -> None:
        """Leave about `leave` bytes free."""
        with open(self.filler, "ab") as f:
            f.write(bytes(max(0, self.room() - leave)))

    def empty(self) -> None:
        self.filler.unlink()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    folder = tmp_path / "small"
    folder.mkdir()
    with tmpfs(folder, "4m", "a real full disk is a small tmpfs filled up"):
        yield SmallDisk(folder)


def full_disk_line(res: subprocess.CompletedProcess[str]) -> str:
    line = one_line_error(res)
    assert "disk is full" in line and "free space" in line and "move the store" in line, line
    return line


@pytest.mark.parametrize("leave", [16_000, 300_000], ids=["no-room-for-the-shm",
                                                        "wal-cannot-grow"])
def test_full_disk_during_import_is_one_clean_line_and_loses_nothing(
        small_disk: SmallDisk, dumps: dict[str, Path], tmp_path: Path, leave: int) -> None:
    """With less room than SQLite's 32 KiB -shm the run fails as it opens the store (an
    I/O error, not SQLITE_FULL); with a little more, as the -wal grows mid-import."""
    url = f"sqlite:///{small_disk.folder / 'store.sqlite'}"
    store = Store(url)
    import_dump(store, dumps[DAY1])
    store.close()
    before = snapshot(url)
    small_disk.fill(leave)
    room = small_disk.room()
    env = {"PAPERSIFT_STORE_URL": url}
    full_disk_line(papersift(["import-dump", str(dumps[DAY2])], env))
    # the failed transaction's -wal frames are given back: its side files keep no more
    # than the -shm (the next run needs that room, not the space of what failed)
    assert small_disk.room() >= room - 32 * 1024
    small_disk.empty()
    assert integrity(small_disk.folder / "store.sqlite") == "ok"
    assert snapshot(url) == before  # one transaction: nothing half-done, nothing lost
    res = papersift(["import-dump", str(dumps[DAY2])], env)
    assert res.returncode == 0, res.stderr
    clean = Store(f"sqlite:///{tmp_path / 'clean.sqlite'}")
    for day in (DAY1, DAY2):
        import_dump(clean, dumps[day])
    clean.close()
    assert all(d.clean for d in compare(snapshot(clean.url), snapshot(url)).values())


def test_full_disk_mid_harvest_resumes_to_the_clean_result(
        ingest_trials: IngestTrials, small_disk: SmallDisk) -> None:
    """The harvest commits page by page: the pages stored before the disk filled up stay,
    and once there is room the same command resumes from them."""
    url = f"sqlite:///{small_disk.folder / 'store.sqlite'}"
    Store(url).close()
    env = {**ingest_trials.env, "PAPERSIFT_STORE_URL": url}
    small_disk.fill(300_000)
    full_disk_line(papersift(ingest_trials.argv("harvest"), env))
    small_disk.empty()
    assert integrity(small_disk.folder / "store.sqlite") == "ok"
    partial = snapshot(url)["papers"]
    assert 0 < len(partial) < len(ingest_trials.clean["harvest"]["papers"])  # pages kept
    res = papersift(ingest_trials.argv("harvest"), env)
    assert res.returncode == 0 and "resumed" in res.stdout, res.stdout + res.stderr
    assert all(d.clean for d in compare(ingest_trials.clean["harvest"], snapshot(url)).values())

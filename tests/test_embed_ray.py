"""`papersift embed --all --ray ADDRESS` on a real Ray cluster of this machine's 2 cores: the
same vectors as the local backfill, nothing embedded twice, a killed driver resumed.
Slow: each run starts 2 workers that import torch and load the model."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from papersift.cli import main
from papersift.rank.embed import StaticMiniLM
from papersift.store import Store
from tests.cli_kill import kill_at
from tests.delivery_servers import free_port
from tests.pg import store_like
from tests.test_backfill import KEY, _rows

if os.environ.get("CI") != "true":  # CI installs the ray extra (Makefile) and must test it
    pytest.importorskip("ray")
pytestmark = pytest.mark.slow
# no token file written into the user's home (clusters elsewhere may want RAY_AUTH_MODE=token)
RAY_ENV = {"RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def cluster(_session_cache: Path) -> Iterator[str]:
    """A Ray head of 2 CPUs started as a cluster's is (`ray start --head`); its address."""
    port = free_port()
    env = os.environ | RAY_ENV | {"XDG_CACHE_HOME": str(_session_cache)}  # the tests' cache
    head = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head",
                             "--port", str(port), "--num-cpus", "2", "--include-dashboard=false",
                             "--disable-usage-stats", "--block"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert head.poll() is None and time.monotonic() < deadline, "ray start failed"
            time.sleep(0.3)
    yield f"127.0.0.1:{port}"
    head.terminate()  # --block: the head stops the processes it started
    head.wait(60)


@pytest.fixture
def url(small_store_file: Path, tmp_path: Path) -> str:
    return store_like(small_store_file, tmp_path)


def _env(url: str) -> dict[str, str]:
    return {"PAPERSIFT_STORE_URL": url, "PAPERSIFT_EMBEDDING_BACKEND": "minilm-static",
            **RAY_ENV}


def _embed(url: str, *args: str) -> str:
    res = CliRunner().invoke(main, ["embed", *args], env=_env(url))
    assert res.exit_code == 0, res.output
    return res.stdout


def _vectors(url: str) -> dict[str, np.ndarray]:
    store = Store(url)
    papers = store.get_papers([p.id for d in ("2024-12-18", "2024-12-19")
                               for p in store.listing(d)])
    return store.get_embeddings(list(papers.values()), KEY)


def test_ray_stores_the_local_vectors_and_a_second_run_embeds_nothing(
        cluster: str, url: str, small_store_file: Path, tmp_path: Path) -> None:
    total = Store(url).count_papers()
    StaticMiniLM().encode(["warm the distilled model cache"])  # distilled once, not per worker
    out = _embed(url, "--all", "--ray", cluster, "--batch", "50")
    assert f"embedded {total} papers with {KEY}; 0 still missing" in out
    assert _rows(url) == (total, total)
    (tmp_path / "local").mkdir()
    local = store_like(small_store_file, tmp_path / "local")
    _embed(local, "--all")
    ray_vecs, local_vecs = _vectors(url), _vectors(local)
    assert len(ray_vecs) == total and ray_vecs.keys() == local_vecs.keys()
    for pid, v in ray_vecs.items():
        assert np.allclose(v, local_vecs[pid], atol=1e-6), pid
    assert "embedded 0 papers" in _embed(url, "--all", "--ray", cluster)
    assert _rows(url) == (total, total)


def test_killed_ray_run_resumes_without_duplicates(cluster: str, url: str) -> None:
    total = Store(url).count_papers()
    StaticMiniLM().encode(["warm the distilled model cache"])
    kill_at(["embed", "--all", "--ray", cluster, "--batch", "30"], _env(url), "embedded 30/")
    done, distinct = _rows(url)
    assert 30 <= done < total and done == distinct
    # resumed on a Ray started here (`local`), the chunks left are embedded, once
    out = _embed(url, "--all", "--ray", "local", "--workers", "2", "--batch", "30")
    assert f"embedded {total - done} papers" in out and "0 still missing" in out
    assert _rows(url) == (total, total)
    store = Store(url)
    p = store.listing("2024-12-18")[7]
    assert np.allclose(store.get_embeddings([p], KEY)[p.id], StaticMiniLM().encode([p.text])[0],
                       atol=1e-6)


def test_bad_ray_setups_are_one_line_errors(cluster: str, url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"127.0.0.1:{free_port()}"
    for args, msg in (
            (["--ray", dead], f"no Ray cluster answers at {dead}"),
            (["--ray", cluster, "--gpus-per-worker", "1"], "has 2 CPUs and 0 GPUs"),
            (["--ray", cluster, "--workers", "3"], "too few for 3 workers"),
            (["--workers", "2"], "go with --ray"),
            (["--ray", "local", "--export-missing", "x.jsonl"], "leave out --export-missing")):
        res = CliRunner().invoke(main, ["embed", "--all", *args], env=_env(url))
        assert res.exit_code == 1 and msg in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1, res.output
    monkeypatch.setitem(sys.modules, "ray", None)  # as where the extra is not installed
    res = CliRunner().invoke(main, ["embed", "--all", "--ray", "local"], env=_env(url))
    assert res.exit_code == 1 and "pip install 'papersift[ray]'" in res.output
    assert _rows(url) == (0, 0)

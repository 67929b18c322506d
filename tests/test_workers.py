"""Work split over forked processes (the daily job for many users)."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from papersift.errors import PapersiftError
from papersift.workers import fork_map, worker_count

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="forked workers: Linux only")


@linux_only
def test_chunks_run_in_other_processes_that_see_the_parents_memory_and_come_back_in_order(
        ) -> None:
    lock = threading.Lock()  # unpicklable: only a forked child can use it
    weights = {i: i * i for i in range(20)}
    marks: list[int] = []

    def task(part: list[int]) -> tuple[int, list[int], bool]:
        with lock:
            return os.getpid(), [weights[i] for i in part], bool(marks)

    out = list(fork_map(task, list(range(20)), workers=2, chunk=3,
                        after_fork=lambda: marks.append(1)))
    assert [sq for _, part, _ in out for sq in part] == [i * i for i in range(20)]
    assert os.getpid() not in {pid for pid, _, _ in out}
    assert all(ran for _, _, ran in out)  # after_fork ran in each worker …
    assert not marks  # … and not here


def test_one_worker_or_one_chunk_runs_here() -> None:
    def task(part: list[int]) -> tuple[int, int]:
        return os.getpid(), sum(part)

    for workers, chunk in ((1, 2), (4, 10)):
        out = list(fork_map(task, list(range(10)), workers=workers, chunk=chunk))
        assert {pid for pid, _ in out} == {os.getpid()}
        assert sum(s for _, s in out) == 45


@linux_only
def test_a_workers_error_reaches_the_caller() -> None:
    def task(part: list[int]) -> int:
        if 7 in part:
            raise ValueError("paper 7 is malformed")
        return len(part)

    with pytest.raises(ValueError, match="paper 7 is malformed"):
        list(fork_map(task, list(range(10)), workers=2, chunk=2))


@linux_only
def test_a_killed_worker_is_a_one_line_error_saying_to_run_again() -> None:
    def task(part: list[int]) -> int:
        if 3 in part:
            os.kill(os.getpid(), signal.SIGKILL)
        return len(part)

    with pytest.raises(PapersiftError, match="worker process died.*run the same command"):
        list(fork_map(task, list(range(10)), workers=2, chunk=2))


@linux_only
def test_zero_workers_means_one_per_core() -> None:
    assert worker_count(0) == os.cpu_count()
    assert worker_count(3) == 3
    assert worker_count(1) == 1

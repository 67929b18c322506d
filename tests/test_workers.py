"""Work split over forked processes (the daily job for many users)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from papersift.errors import PapersiftError
from papersift.workers import beside_threads, fork_map, running, worker_count

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


@linux_only
def test_beside_other_threads_the_work_runs_here_rather_than_hang() -> None:
    """A worker forked while another thread holds a lock the task needs would wait on it
    forever (the thread that would release it is not in the child): a caller that runs
    beside other threads (the scheduler's thread mode) has the chunks run here, and they
    finish once the thread lets go."""
    lock = threading.Lock()
    lock.acquire()
    holder = threading.Timer(0.3, lock.release)  # a thread holding the lock a moment
    holder.start()

    def task(part: list[int]) -> tuple[int, int]:
        if not lock.acquire(timeout=10):
            raise AssertionError("hung on a lock held by a thread the child does not have")
        lock.release()
        return os.getpid(), sum(part)

    with beside_threads():
        out = list(fork_map(task, list(range(10)), workers=2, chunk=2))
    holder.join()
    assert {pid for pid, _ in out} == {os.getpid()} and sum(s for _, s in out) == 45


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


def _counts(answer: multiprocessing.queues.Queue) -> None:
    answer.put((worker_count(0), worker_count(4)))


def test_a_daemonic_process_which_may_not_fork_gets_no_workers() -> None:
    """Task queues (Celery's prefork pool, multiprocessing pools) run jobs in daemonic
    processes: the job runs there in-process rather than failing to start workers."""
    ctx = multiprocessing.get_context("spawn")
    answer = ctx.Queue()
    proc = ctx.Process(target=_counts, args=(answer,), daemon=True)
    proc.start()
    assert answer.get(timeout=60) == (1, 1)
    proc.join()


PARENT = """
import sys, time
from pathlib import Path
from papersift.workers import fork_map

folder = Path(sys.argv[1])

def task(part):
    import os
    (folder / str(os.getpid())).touch()
    time.sleep(60)
    return part

list(fork_map(task, list(range(4)), workers=2, chunk=1))
"""


@linux_only
def test_workers_die_with_a_killed_job(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)])
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = [int(p.name) for p in tmp_path.iterdir()]
        assert len(workers) == 2, "the workers never started"
    finally:
        parent.kill()  # kill -9: no chance to shut its pool down
        parent.wait()
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(running(pid) for pid in workers), "workers outlived the killed job"


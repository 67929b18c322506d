"""Work split over forked processes that inherit everything already in memory.

The daily job for many users is CPU-bound Python and NumPy on small matrices: threads
gain little (the GIL), while processes forked once the day's shared state is built (the
background, the ranker's per-period state, every vector) use every core without
rebuilding or copying any of it.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from papersift.errors import PapersiftError

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1  # linux/prctl.h: the signal a process gets when its parent dies
# (task, after_fork, parent pid) of the running `fork_map`: functions are inherited, not
# pickled, so closures over the parent's state work
_JOB: tuple[Callable, Callable[[], None] | None, int] | None = None


def worker_count(requested: int) -> int:
    """Processes to use: `requested`, or with 0 one per core on Linux (elsewhere fork is
    unavailable or unsafe with the system's libraries, so 0 means none). None in a daemonic
    process (a task queue's pool worker), which may not have children."""
    if ("fork" not in multiprocessing.get_all_start_methods()
            or multiprocessing.current_process().daemon):
        return 1
    if requested == 0:
        return (os.cpu_count() or 1) if sys.platform == "linux" else 1
    return requested


def running(pid: int) -> bool:
    """Whether process `pid` runs: not gone, and not killed but unreaped (a zombie, on
    Linux; a worker killed with its job waits for init to reap it). True when it exists
    but is not ours to signal."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (not Linux), or it ended just now
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]  # the name may hold ") Z"


_BESIDE_THREADS = 0  # callers running in a thread of a process with others (see below)


@contextmanager
def beside_threads() -> Iterator[None]:
    """Within it, `fork_map` runs its chunks here. Forked beside other threads, a worker
    inherits every lock one of them held at that instant (logging's, SQLite's, an
    import's) with no thread left to release it, and can hang on it: a host that runs the
    daily job in a thread beside its own (`Scheduler.start`) says so. (`papersift serve`
    gives its scheduler a process of its own, forked before the web app's threads, so its
    daily job still forks.)"""
    global _BESIDE_THREADS
    _BESIDE_THREADS += 1
    try:
        yield
    finally:
        _BESIDE_THREADS -= 1


def fork_map(task: Callable[[list[T]], R], items: Sequence[T], workers: int, chunk: int,
             after_fork: Callable[[], None] | None = None) -> Iterator[R]:
    """`task` of each run of `chunk` consecutive items, in order. With `workers` > 1 the
    chunks run in that many forked processes (`after_fork` first in each: drop what must
    not be shared, such as database connections); small chunks balance the load and let
    the caller report progress as they complete."""
    parts = [list(items[i:i + chunk]) for i in range(0, len(items), chunk)]
    if workers <= 1 or len(parts) <= 1 or _BESIDE_THREADS:
        yield from map(task, parts)
        return
    global _JOB
    _JOB = (task, after_fork, os.getpid())
    pool = ProcessPoolExecutor(min(workers, len(parts)), initializer=_start,
                               mp_context=multiprocessing.get_context("fork"))
    try:
        for future in [pool.submit(_run, part) for part in parts]:
            yield future.result()
    except BrokenProcessPool:
        raise PapersiftError("a worker process died (killed, or out of memory); run the "
                             "same command again: finished work is kept") from None
    finally:  # on an error or an interrupt, chunks not started are dropped
        pool.shutdown(cancel_futures=True)
        _JOB = None


def die_with_parent(sig: int, parent: int) -> None:
    """Have this (forked) process get `sig` when `parent`, the process that forked it,
    ends (Linux; elsewhere nothing)."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)


def _start() -> None:
    """Die with the parent: a job killed (kill -9, out of memory) must not leave workers
    ranking and delivering behind its back. Signals are the parent's business: Ctrl-C
    (which reaches the whole process group) is ignored, and SIGTERM, with which the pool
    ends the others when a worker died, kills, whatever handler or mask the parent had
    (the scheduler's process blocks it). One thread per process: the processes already
    fill the cores, and BLAS or torch threads would only contend with them."""
    from threadpoolctl import threadpool_limits

    assert _JOB is not None
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    die_with_parent(signal.SIGKILL, _JOB[2])
    threadpool_limits(1)
    if "torch" in sys.modules:  # a forked child must not reuse the parent's OpenMP pool
        sys.modules["torch"].set_num_threads(1)
    if _JOB[1] is not None:
        _JOB[1]()


def _run(part: list) -> object:
    assert _JOB is not None
    return _JOB[0](part)

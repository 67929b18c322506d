"""`papersift embed --ray ADDRESS`: the backfill's chunks embedded by a Ray cluster's workers.

This process (the driver, the one with the store) reads the missing papers in chunks as the
plain backfill does and hands each to a Ray actor that loaded the configured model once. Each
finished chunk is stored through `backfill.store_vectors`, the import's hash-checked path: a
killed run keeps the chunks it stored, its rerun asks the store again what is missing, and a
paper whose text changed while its chunk was out gets no stale vector. Ray is optional (the
`ray` extra), so it is imported only here, only when asked for.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from papersift import backfill as bf
from papersift.errors import PapersiftError
from papersift.rank.embed import Embedder
from papersift.records import Paper
from papersift.store import Store

# chunks queued on each worker: it embeds the next one while the driver stores the last
QUEUE = 2


@dataclass(frozen=True)
class Cluster:
    address: str  # "local" (a Ray started here on this machine's cores) or HOST:PORT
    workers: int | None = None  # default: one per CPU, or per GPU share
    gpus_per_worker: float = 0.0


class Worker:
    """A Ray actor's state: the model, loaded on its first chunk and kept for the rest."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)


def run(store: Store, embedder: Embedder, scope: bf.Scope, cluster: Cluster, *,
        batch: int, progress: bf.Progress | None = None) -> tuple[int, int]:
    """Embed every missing paper of `scope` on `cluster`; returns (stored, stale: skipped
    because the paper's text changed while it was being embedded)."""
    ray = _import_ray()
    chunks = bf.missing(store, embedder.key, scope, batch)
    if (first := next(chunks, None)) is None:
        return 0, 0  # nothing to do: no cluster started or joined
    _connect(ray, cluster.address)
    try:
        actors = _start_workers(ray, embedder, cluster)
        total = bf.count_missing(store, embedder.key, scope)
        if progress:
            progress(0, total)
        return _drive(ray, store, embedder.key, actors, itertools.chain([first], chunks),
                      total, progress)
    finally:
        ray.shutdown()  # leaves a cluster we joined running; stops one we started


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise PapersiftError("--ray needs Ray, which is not installed: "
                             "pip install 'papersift[ray]'") from None
    return ray


def _connect(ray: Any, address: str) -> None:
    if address == "local":
        ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False)
        return
    # ray.init retries a dead address for minutes: ask its port first
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as e:
        raise PapersiftError(f"no Ray cluster answers at {address} ({e}): give the HOST:PORT "
                             "that `ray start --head` printed, or --ray local") from None
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except Exception as e:  # Ray raises several kinds; the user needs the gist, in one line
        raise PapersiftError(f"cannot join the Ray cluster at {address} "
                             f"({type(e).__name__}: {_first_line(e)}): if it uses token "
                             "authentication, set RAY_AUTH_MODE=token here") from None


def _start_workers(ray: Any, embedder: Embedder, cluster: Cluster) -> list[Any]:
    have = ray.cluster_resources()
    cpus, gpus, share = int(have.get("CPU", 0)), have.get("GPU", 0.0), cluster.gpus_per_worker
    n = cluster.workers or (int(gpus // share) if share else cpus)
    if n < 1 or n > cpus or n * share > gpus:
        raise PapersiftError(f"the Ray cluster at {cluster.address} has {cpus} CPUs and "
                             f"{gpus:g} GPUs, too few for {n} workers of 1 CPU and "
                             f"{share:g} GPUs each: lower --workers or --gpus-per-worker")
    # one CPU thread each (that is what Ray reserves); the model on the GPU Ray assigns
    remote = type(embedder)(embedder.batch_size, 1, embedder.max_tokens,
                            "cuda" if share else "cpu")
    actor = ray.remote(Worker).options(num_cpus=1, num_gpus=share)
    return [actor.remote(remote) for _ in range(n)]


def _drive(ray: Any, store: Store, model: str, actors: list[Any],
           chunks: Iterator[list[Paper]], total: int,
           progress: bf.Progress | None) -> tuple[int, int]:
    free = [a for a in actors for _ in range(QUEUE)]
    out: dict[Any, tuple[Any, list[dict[str, str]]]] = {}  # result -> (its worker, its rows)
    stored = stale = 0

    def store_one() -> None:  # the first chunk to come back
        nonlocal stored, stale
        [ref], _ = ray.wait(list(out))
        actor, rows = out.pop(ref)
        try:
            vecs = ray.get(ref)
        except ray.exceptions.RayError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, PapersiftError):
                raise cause from None
            raise PapersiftError(f"a Ray worker failed ({_first_line(cause or e)}): see the "
                                 "Ray logs of its node; run again to go on") from None
        s, st = bf.store_vectors(store, model, rows, vecs)
        stored, stale = stored + s, stale + st
        free.append(actor)
        if progress:
            progress(stored + stale, max(total, stored + stale))

    for papers in chunks:
        if not free:
            store_one()
        rows = [bf.row(p) for p in papers]
        actor = free.pop()
        out[actor.embed.remote([r["text"] for r in rows])] = (actor, rows)
    while out:
        store_one()
    return stored, stale


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]

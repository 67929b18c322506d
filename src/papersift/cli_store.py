"""Store-wide commands: migrate-store (SQLite → PostgreSQL) and embed (backfill)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from papersift.calendar import parse_day
from papersift.cli import _bar, _settings, console, err, main
from papersift.errors import PapersiftError

if TYPE_CHECKING:
    from papersift.store import Store


@main.command("migrate-store")
@click.argument("src_url")
@click.argument("dst_url")
@click.option("--resume", is_flag=True,
              help="Finish an interrupted copy into a destination that already holds rows.")
@click.option("--batch", default=5000, show_default=True, help="Rows per committed batch.")
def migrate_store(src_url: str, dst_url: str, resume: bool, batch: int) -> None:
    """Copy every table of the store at SRC_URL into DST_URL (e.g. sqlite:///… to
    postgresql://user@host/db), then check the row counts match."""
    from papersift.store.copy import copy_store

    def show(table: str, done: int, total: int) -> None:
        err.print(f"{table}: {done}/{total}")

    console.print(copy_store(src_url, dst_url, batch=batch, resume=resume,
                             progress=show).summary())


@main.command()
@click.option("--all", "all_", is_flag=True, help="Every paper in the store lacking a vector.")
@click.option("--since", help="Only papers announced on or after this day.")
@click.option("--until", help="Only papers announced before this day.")
@click.option("--batch", default=512, show_default=True,
              help="Papers embedded (or vectors indexed) and committed at a time.")
@click.option("--shard", help="i/n: take only the i-th of n disjoint shares (n workers).")
@click.option("--export-missing", type=click.Path(path_type=Path),
              help="Write the missing papers' texts as JSON lines instead of embedding them.")
@click.option("--import-vectors", nargs=2, type=click.Path(path_type=Path),
              metavar="TEXTS.jsonl VECTORS.npy",
              help="Store vectors computed elsewhere for an exported file.")
@click.option("--index", is_flag=True,
              help="PostgreSQL with pgvector: index the stored vectors (after embedding, "
                   "with --all/--since/--until) so semantic search runs in the database.")
@click.option("--ray", "ray_address", metavar="ADDRESS",
              help="Embed on a Ray cluster: its head's HOST:PORT, or 'local' to start Ray on "
                   "this machine's cores (pip install 'papersift[ray]').")
@click.option("--workers", type=click.IntRange(min=1),
              help="With --ray: how many workers (default: one per CPU, or per GPU share).")
@click.option("--gpus-per-worker", type=click.FloatRange(min=0), default=0.0,
              help="With --ray: GPUs each worker holds and embeds on (0.5: two share one).")
@click.pass_context
def embed(ctx: click.Context, all_: bool, since: str | None, until: str | None, batch: int,
          shard: str | None, export_missing: Path | None,
          import_vectors: tuple[Path, Path] | None, index: bool, ray_address: str | None,
          workers: int | None, gpus_per_worker: float) -> None:
    """Embed the papers that have no vector for the configured backend (resumable: a killed
    run continues where it stopped when run again)."""
    from papersift import backfill as bf
    from papersift.rank.embed import make_embedder
    from papersift.store import Store

    settings = _settings(ctx)
    store = Store(settings.store_url)
    embedder = make_embedder(settings)
    if import_vectors:
        stored, stale = bf.import_vectors(store, embedder, *import_vectors)
        console.print(f"stored {stored} vectors ({embedder.key}); skipped {stale} whose "
                      "paper changed since the export")
        return
    if batch < 1:
        raise PapersiftError(f"--batch must be at least 1, not {batch}")
    if (workers or gpus_per_worker) and not ray_address:
        raise PapersiftError("--workers and --gpus-per-worker go with --ray ADDRESS")
    if ray_address and export_missing:
        raise PapersiftError("--ray embeds on the cluster and stores the vectors itself: "
                             "leave out --export-missing")
    if not (all_ or since or until):
        if index:
            _index(store, embedder.key, batch)
            return
        raise PapersiftError("say what to embed: --all, or --since/--until DAY (or --index)")
    scope = bf.Scope(parse_day(since) if since else None, parse_day(until) if until else None,
                     bf.Shard.parse(shard) if shard else bf.ALL)
    if export_missing:
        n = bf.export_missing(store, embedder.key, scope, export_missing)
        console.print(f"wrote {n} papers to {export_missing}: embed them with "
                      f"{embedder.key}, then papersift embed --import-vectors")
        return

    def run(progress: bf.Progress) -> tuple[int, int]:
        if not ray_address:
            return bf.backfill(store, embedder, scope, batch=batch, progress=progress), 0
        from papersift import embed_ray

        cluster = embed_ray.Cluster(ray_address, workers, gpus_per_worker)
        return embed_ray.run(store, embedder, scope, cluster, batch=batch, progress=progress)

    if err.is_terminal:
        with _bar("embedding", None) as update:
            n, stale = run(update)
    else:  # a log (cluster worker, cron): one line per committed batch
        n, stale = run(lambda done, total: err.print(f"embedded {done}/{total}"))
    if stale:
        console.print(f"skipped {stale} papers whose text changed while they were embedded")
    console.print(f"embedded {n} papers with {embedder.key}; "
                  f"{store.count_missing_embeddings(embedder.key, scope.since, scope.until)} "
                  "still missing in that range" + (" (all shards)" if shard else ""))
    if index:
        _index(store, embedder.key, batch)


def _index(store: Store, model: str, batch: int) -> None:
    def show(done: int, total: int) -> None:
        err.print(f"copied {done}/{total} vectors into the index column")

    n = store.enable_vector_index(model, batch, progress=show)
    console.print(f"pgvector index of {model}: {n} vectors; semantic search now runs in "
                  "PostgreSQL")

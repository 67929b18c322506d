"""Command line: each command parses its options, calls one function and prints the result."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from papersift import __version__, config
from papersift.calendar import parse_day
from papersift.errors import PapersiftError

# Paper text is data, never rich markup; one message is one line (greppable, testable).
console = Console(soft_wrap=True, markup=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


class Cli(click.Group):
    """Turns every PapersiftError into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PapersiftError as e:
            err.print(Text.assemble(("error: ", "red"), str(e)))
            sys.exit(1)
        except KeyboardInterrupt:
            err.print("interrupted: nothing half-written was kept; rerun to continue")
            sys.exit(130)


@contextmanager
def _bar(label: str, total: int | None, bytes_: bool = False) -> Iterator[Callable[..., None]]:
    cols = [TextColumn(label), BarColumn(),
            DownloadColumn() if bytes_ else MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*cols, console=err, transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda done, total=total: prog.update(task, completed=done, total=total)


def _settings(ctx: click.Context) -> config.Settings:
    return config.load(ctx.obj["config"])


@click.group(cls=Cli)
@click.version_option(__version__)
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Config file (default: $XDG_CONFIG_HOME/papersift/config.toml, "
                   "or $PAPERSIFT_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """papersift: your daily arXiv digest, ranked against your own library."""
    ctx.obj = {"config": config_path}


@main.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.pass_context
def init(ctx: click.Context, force: bool) -> None:
    """Write a commented config file to the XDG config directory."""
    path = ctx.obj["config"] or config.default_config_path()
    if path.exists() and not force:
        raise PapersiftError(f"{path} already exists: edit it, or rerun with --force to "
                             "overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.render_template(), encoding="utf-8")
    console.print(f"wrote {path}: add your arXiv ids, keywords and authors under [profile]")


@main.command("import-dump")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def import_dump(ctx: click.Context, file: Path) -> None:
    """Load an arXiv bulk-metadata JSON-lines file (.jsonl or .jsonl.gz) into the store."""
    from papersift.sources.dump import import_dump as run
    from papersift.store import Store

    store = Store(_settings(ctx).store_url)
    size = file.stat().st_size if file.exists() else None
    with _bar("importing", size, bytes_=True) as update:
        report = run(store, file, progress=update)
    for bad in report.bad[:20]:
        err.print(f"{file}:{bad.line}: skipped: {bad.reason}")
    if len(report.bad) > 20:
        err.print(f"… and {len(report.bad) - 20} more bad lines")
    console.print(f"imported {report.papers} papers ({report.listings} listing entries); "
                  f"skipped {len(report.bad)} bad lines; the store holds "
                  f"{store.count_papers()} papers")


@main.command()
@click.option("--ids", "ids", multiple=True, help="Look these arXiv ids up via the API.")
@click.option("--from", "from_", help="Harvest OAI-PMH records changed since this day.")
@click.option("--until", help="… and until this day (with --from).")
@click.pass_context
def fetch(ctx: click.Context, ids: tuple[str, ...], from_: str | None,
          until: str | None) -> None:
    """Ingest from arXiv: today's feed (default), an OAI-PMH harvest, or ids via the API."""
    from papersift.sources.fetch import fetch as run
    from papersift.store import Store

    settings = _settings(ctx)
    store = Store(settings.store_url)
    report = run(settings, store, feed=not (ids or from_), ids=list(ids) or None,
                 oai_from=parse_day(from_) if from_ else None,
                 oai_until=parse_day(until) if until else None)
    console.print(report.summary())


@main.command()
@click.option("--date", "day", help="Listing day YYYY-MM-DD (default: the latest).")
@click.option("--user", help="Whose digest (default: profile.user).")
@click.option("--no-send", is_flag=True, help="Do not deliver to the configured channels.")
@click.option("--all-users", is_flag=True,
              help="Every user of the store, from one pass over the day (a lab's server).")
@click.pass_context
def daily(ctx: click.Context, day: str | None, user: str | None, no_send: bool,
          all_users: bool) -> None:
    """Rank a day's listing for your profile, write the digest and deliver it."""
    from papersift.deliver.render import print_table
    from papersift.jobs import daily as run
    from papersift.jobs import daily_all

    settings = _settings(ctx)
    if all_users:
        results = daily_all(settings, parse_day(day) if day else None,
                            log=lambda m: err.print(m), send=not no_send)
        for name, r in results.items():
            console.print(f"{name}: {len(r.digest.entries)} papers from {r.digest.candidates}"
                          + ("" if not r.reused else " (already ranked)"))
        console.print(f"ranked {len(results)} users")
        return
    with _bar("embedding", None) as update:
        result = run(settings, parse_day(day) if day else None, user=user,
                     log=lambda m: err.print(m), progress=update, send=not no_send)
    for w in result.warnings:
        err.print(Text.assemble(("warning: ", "yellow"), w))
    print_table(result.digest, console)
    for path in result.files:
        console.print(f"wrote {path}")
    for outcome in result.deliveries:
        console.print(str(outcome))


@main.command()
def rankers() -> None:
    """List the available rankers."""
    from papersift.rank.base import RANKERS, get_ranker

    get_ranker("similarity")  # fills the registry
    for name, cls in sorted(RANKERS.items()):
        console.print(f"{name}: {cls.summary}")


@main.command()
@click.option("--limit", default=10, show_default=True)
@click.pass_context
def runs(ctx: click.Context, limit: int) -> None:
    """Show what the last runs did and where they stopped."""
    from papersift.store import Store

    for r in Store(_settings(ctx).store_url).runs(limit):
        console.print(f"#{r['id']} {r['job']} {r['day'] or ''} {r['user'] or ''}: "
                      f"{r['status']} at {r['stage']} — {r['detail'] or ''}")


@main.command()
@click.option("--corpus", type=click.Path(path_type=Path), required=True,
              help="arXiv bulk-metadata JSON-lines file (.gz too) with `announced` days.")
@click.option("--splits", type=click.Path(path_type=Path), help="Splits JSON (list replay).")
@click.option("--lists", type=click.Path(path_type=Path), help="Folder of <list>.txt files.")
@click.option("--only", help="Comma-separated list names to replay (default: all splits).")
@click.option("--library", type=click.Path(path_type=Path),
              help="Your own list of arXiv ids (one per line), instead of --splits.")
@click.option("--start", help="With --library: first day replayed (your library = earlier).")
@click.option("--end", help="With --library: last day replayed.")
@click.option("--ranker", "rankers", default=None,
              help="Ranker name, comma-separated names, or `all` (default: digest.ranker).")
@click.option("--dump-rankings", type=click.Path(path_type=Path),
              help="Write each list-day's ranking (top 50) as JSON lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def backtest(ctx: click.Context, corpus: Path, splits: Path | None, lists: Path | None,
             only: str | None, library: Path | None, start: str | None, end: str | None,
             rankers: str | None, dump_rankings: Path | None, as_json: bool) -> None:
    """Replay past listings to measure how well a ranker would have served a library."""
    import json

    from papersift import backtest as bt
    from papersift.profile.config_source import read_id_file
    from papersift.rank.base import RANKERS, get_ranker
    from papersift.rank.embed import make_embedder
    from papersift.store import Store

    settings = _settings(ctx)
    get_ranker("random")  # fills the registry
    names = (sorted(RANKERS) if rankers == "all" else
             [r.strip() for r in (rankers or settings["digest.ranker"]).split(",")])
    for name in names:
        get_ranker(name)  # unknown names fail before the long part
    if library is None and not (splits and lists):
        raise PapersiftError("backtest needs --splits and --lists, or --library with "
                             "--start and --end")
    if library is not None and not (start and end):
        raise PapersiftError("--library needs --start and --end (YYYY-MM-DD)")
    err.print(f"loading {corpus}…")
    data = bt.Corpus.load(corpus)
    if library is not None:
        ids = read_id_file(library)
        tasks = [bt.make_task(data, library.stem, ids, parse_day(start or ""),
                              parse_day(end or ""))]
        bt.check_measurable(tasks[0], ids, data, str(library))
    else:
        tasks = bt.tasks_from_splits(data, splits, lists)  # type: ignore[arg-type]
    if only:
        keep = {n.strip() for n in only.split(",")}
        tasks = [t for t in tasks if t.name in keep]
    store = Store(settings.store_url)
    results = bt.run(tasks, names, store, make_embedder(settings), log=err.print,
                     quality_weight=settings["digest.quality_weight"], corpus=data)
    if dump_rankings:
        for r in results:
            path = dump_rankings if len(results) == 1 else \
                dump_rankings.with_suffix(f".{r.ranker}{dump_rankings.suffix}")
            bt.write_rankings(r, path)
            err.print(f"wrote {path}")
    if as_json:
        if len(results) == 1:
            out = {"summary": results[0].summary, "per_list": results[0].per_list}
        else:
            out = {"rankers": {r.ranker: {"summary": r.summary, "per_list": r.per_list,
                                          "seconds": round(r.seconds, 2)} for r in results}}
        click.echo(json.dumps(out, indent=1))
        return
    table = Table(title="backtest (macro average over lists)")
    for col in ("ranker", *bt.METRICS, "seconds"):
        table.add_column(col, justify="left" if col == "ranker" else "right")
    for r in results:
        table.add_row(r.ranker, *(f"{r.summary[m]:.3f}" for m in bt.METRICS), f"{r.seconds:.1f}")
    console.print(table)
    for r in results:
        for name, m in r.per_list.items():
            console.print(f"{r.ranker} {name}: " + " ".join(
                f"{k}={m[k]:.3f}" for k in bt.METRICS) + f" positives={m['positives']}")

# Each module registers its commands on `main`.
from papersift import (  # noqa: E402, F401
    cli_deliver,  # deliver, serve, doctor, catchup, channels
    cli_llm,  # llm test, llm usage
    cli_profile,  # profile, rate
    cli_quality,  # quality
    cli_store,  # migrate-store, embed
    cli_web,  # web adduser, passwd, users
)

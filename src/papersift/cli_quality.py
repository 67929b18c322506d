"""`papersift quality …`: train, export and browse the quality signal."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.table import Table

from papersift.calendar import parse_day
from papersift.cli import _settings, console, err, main
from papersift.errors import PapersiftError


@main.group()
def quality() -> None:
    """How likely a paper is worth reading, judged on its announcement day."""


@quality.command("import-signals")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def import_signals(ctx: click.Context, file: Path) -> None:
    """Store dated signals (JSON lines {"id", "signal", "value", "date"}) without training:
    they become the authors' earlier attention for papers announced later."""
    from papersift.quality.train import read_signals
    from papersift.store import Store

    rows = read_signals(file)
    new = Store(_settings(ctx).store_url).add_signals(rows)
    console.print(f"stored {new} new signals ({len(rows) - new} already known) from {file}")


@quality.command()
@click.option("--signals", type=click.Path(path_type=Path), required=True,
              help='JSON lines {"id", "signal", "value", "date"}, e.g. Hugging Face upvotes '
                   "or your lab's ratings.")
@click.option("--split", help="Train on papers before this day, evaluate on the rest "
                              "(default: the day 80% of listed papers came before).")
@click.option("--horizon", default=7, show_default=True,
              help="Days after its announcement a signal still counts for a paper.")
@click.option("--target", type=click.Choice(["featured", "value"]), default="featured",
              show_default=True, help="featured: was it signalled at all (attention); "
                                      "value: the signal's value (graded ratings).")
@click.pass_context
def train(ctx: click.Context, signals: Path, split: str | None, horizon: int,
          target: str) -> None:
    """Import dated signals and learn a quality model from them (time-split)."""
    from papersift.quality.train import train as run
    from papersift.store import Store

    store = Store(_settings(ctx).store_url)
    err.print("computing features of every listed paper…")
    report = run(store, signals, split=parse_day(split) if split else None, horizon=horizon,
                 target=target)
    ev = report.evaluation
    console.print(f"model #{report.model_id} ({target}) trained on {report.train_papers} papers "
                  f"({report.train_positives} signalled) before {report.split}; tested on "
                  f"{ev.test_papers} papers ({ev.test_positives} signalled) from {report.split}")
    table = Table(title="quality on the test days")
    cols = ("auc_same_day", "auc_pooled", "spearman_featured")
    for col in ("model", *cols):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, row in ev.rows.items():
        table.add_row(name, *(f"{row[c]:.3f}" if c in row else "–" for c in cols))
    console.print(table)
    console.print("the ranker now uses this model (newest learned model in the store)")


@quality.command()
@click.option("--since", help="Only papers listed on or after this day (YYYY-MM-DD).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Output file: one JSON line {\"id\", \"quality\"} per paper.")
@click.pass_context
def export(ctx: click.Context, since: str | None, out: Path) -> None:
    """Write every stored paper's quality as the ranker saw it on its announcement day."""
    from papersift.quality.scoring import assess
    from papersift.store import Store

    store = Store(_settings(ctx).store_url)
    papers = store.papers_known_since(parse_day(since) if since else None)
    err.print(f"scoring {len(papers)} papers…")
    scores = assess(store, papers)
    tmp = out.with_name(out.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for pid, s in zip(scores.ids, scores.score, strict=True):
                f.write(json.dumps({"id": pid, "quality": round(float(s), 4)}) + "\n")
        os.replace(tmp, out)  # a killed export leaves no half-written file behind
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise PapersiftError(f"cannot write {out}: {e.strerror}; choose another --out") \
            from None
    console.print(f"wrote {len(papers)} scores to {out} (model: {scores.model})")


@quality.command()
@click.option("--date", "day", help="Listing day YYYY-MM-DD (default: the latest stored).")
@click.option("--category", help="Only papers listed in this category, e.g. cs.CL "
                                 "(default: arxiv.categories).")
@click.option("--limit", default=20, show_default=True)
@click.pass_context
def top(ctx: click.Context, day: str | None, category: str | None, limit: int) -> None:
    """Top today: a day's papers ranked by quality alone, whatever your interests."""
    from papersift.quality.scoring import assess
    from papersift.store import Store

    settings = _settings(ctx)
    store = Store(settings.store_url)
    days = store.listing_days()
    if not days:
        raise PapersiftError("the store holds no listings: run `papersift fetch` or "
                             "`papersift import-dump` first")
    day = parse_day(day) if day else days[-1]
    wanted = {category} if category else set(settings["arxiv.categories"])
    papers = [p for p in store.listing(day) if wanted & set(p.categories)]
    if not papers:
        raise PapersiftError(f"no papers listed on {day} in {', '.join(sorted(wanted))}: "
                             "pick another --date or --category")
    scores = assess(store, papers)
    order = sorted(range(len(papers)), key=lambda i: (-scores.score[i], papers[i].id))
    table = Table(title=f"top {', '.join(sorted(wanted))} papers of {day} by quality "
                        f"({len(papers)} listed)")
    table.add_column("#", justify="right")
    table.add_column("arXiv", no_wrap=True)  # ids stay whole: users copy them
    table.add_column("paper")
    table.add_column("quality", justify="right")
    table.add_column("why")
    for rank, i in enumerate(order[:limit], 1):
        p = papers[i]
        who = ", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else "")
        table.add_row(str(rank), p.id, f"{p.title}\n{who}", f"{scores.score[i]:.2f}",
                      ", ".join(scores.cues[i]) or "–")
    console.print(table)
    err.print(f"model: {scores.model}")

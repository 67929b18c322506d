"""Benchmark inputs: a missing data file is a one-line usage error, not a traceback after
minutes of loading."""

from __future__ import annotations

import argparse
from pathlib import Path


def require(ap: argparse.ArgumentParser, args: argparse.Namespace, *names: str) -> None:
    """Stop with a usage error if the path option `names` (e.g. "dump") does not exist."""
    for name in names:
        path: Path | None = getattr(args, name)
        if path is not None and not path.exists():
            ap.error(f"--{name} {path} does not exist: point it at the shared data "
                     "(../shared/data/arxiv-cs-2024-2026.jsonl.gz, lists/, splits-dev.json, "
                     "quality/)")


def replay_arguments(ap: argparse.ArgumentParser, shared: Path, cache: Path) -> None:
    """The options of a benchmark replaying the dev lists (`../shared/EVAL.md`): the data,
    the ranker and embedder, and the store caching embeddings between runs."""
    ap.add_argument("--dump", type=Path, default=shared / "arxiv-cs-2024-2026.jsonl.gz")
    ap.add_argument("--splits", type=Path, default=shared / "splits-dev.json")
    ap.add_argument("--lists", type=Path, default=shared / "lists")
    ap.add_argument("--ranker", default="papersift")
    ap.add_argument("--backend", default="minilm-static")
    ap.add_argument("--cache", type=Path, default=cache,
                    help="Store that caches embeddings between runs.")

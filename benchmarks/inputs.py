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

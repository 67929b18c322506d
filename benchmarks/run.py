"""papersift benchmarks: import-dump, embedding throughput, one `daily` replay.

    make bench            # or: .venv/bin/python benchmarks/run.py --dump FILE --out FILE

Every figure comes with a baseline measured in the same run, so ratios survive a slower or
busier machine. Results are written as Markdown (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import inputs  # benchmarks/, the script's folder
import psutil
import sections  # benchmarks/, the script's folder

ROOT = Path(__file__).resolve().parents[1]
PAPERSIFT = [sys.executable, "-m", "papersift"]


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MiB, the process tree) of one command."""
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{out}")
    return time.perf_counter() - t0, peak / 2**20, out


def parse_only(dump: Path) -> tuple[float, int]:
    """Baseline: decompress + json.loads every line, store nothing."""
    t0 = time.perf_counter()
    n = 0
    with gzip.open(dump, "rt", encoding="utf-8") as f:
        for line in f:
            json.loads(line)
            n += 1
    return time.perf_counter() - t0, n


def bench_import(dump: Path, work: Path, env: dict[str, str]) -> list[str]:
    base_s, n = parse_only(dump)
    cmd = [*PAPERSIFT, "import-dump", str(dump)]
    first_s, first_mb, _ = measure(cmd, env)
    again_s, _, _ = measure(cmd, env)
    return [
        "## import-dump",
        f"{n:,} records from `{dump.name}` into a fresh SQLite store.",
        "",
        "| run | wall s | records/s | vs parse-only baseline |",
        "|---|---|---|---|",
        f"| baseline: gunzip + json.loads only | {base_s:.1f} | {n / base_s:,.0f} | 1.00× |",
        f"| import-dump, empty store | {first_s:.1f} | {n / first_s:,.0f} | "
        f"{first_s / base_s:.2f}× |",
        f"| import-dump again (idempotent rerun) | {again_s:.1f} | {n / again_s:,.0f} | "
        f"{again_s / base_s:.2f}× |",
        "",
        f"Peak RSS of the first import: {first_mb:.0f} MiB. Target: ≤ 120 s.",
        "",
    ]


def bench_embed(store_url: str, n: int) -> list[str]:
    from papersift.rank.embed import MiniLM, StaticMiniLM
    from papersift.store import Store

    store = Store(store_url)
    ids = store.papers_announced_between("2025-11-12", "2025-11-14")[:n]
    texts = [p.text for p in store.get_papers(ids).values()]
    rows = ["## Embedding throughput (all-MiniLM-L6-v2, sentence-transformers, torch CPU)",
            f"{len(texts)} real title+abstract texts; batch 64.", "",
            "| setting | abstracts/s | vs 1 thread, 256 tokens |", "|---|---|---|"]
    base = None
    models = [(f"minilm, torch threads={n}, max {m} tokens", MiniLM(64, n, m))
              for n, m in ((1, 256), (2, 256), (2, 128))]
    models.append(("minilm-static (Model2Vec distillation), max 256 tokens", StaticMiniLM()))
    for label, model in models:
        model.encode(texts[:64])  # load + warm up
        t0 = time.perf_counter()
        model.encode(texts)
        rate = len(texts) / (time.perf_counter() - t0)
        base = base or rate
        rows.append(f"| {label} | {rate:.1f} | {rate / base:.2f}× |")
    rows += ["", "papersift embeds with 256 tokens (the model's own limit) by default; the "
             "default backend `minilm+static` runs both rows' models, so it embeds at MiniLM's "
             "rate; `embedding.backend = \"minilm-static\"` trades quality for speed "
             "(backfills, backtests). The ONNX Runtime path is not implemented (measured "
             "slower on this CPU).", ""]
    return rows


def bench_daily(env: dict[str, str], config: Path, day: str) -> list[str]:
    cmd = [*PAPERSIFT, "--config", str(config), "daily", "--date", day]
    cold_s, cold_mb, _ = measure(cmd, env)
    store = env["PAPERSIFT_STORE_URL"].removeprefix("sqlite:///")
    import sqlite3

    db = sqlite3.connect(store)
    db.execute("delete from digest_entries")
    db.execute("delete from digests")
    db.commit()
    db.close()
    warm_s, warm_mb, _ = measure(cmd, env)
    again_s, again_mb, _ = measure(cmd, env)
    base_s, base_mb, _ = measure([*PAPERSIFT, "--version"], env)
    return [
        f"## `papersift daily --date {day}` (example profile, {config.name})",
        "",
        "| run | wall s | peak RSS MiB |",
        "|---|---|---|",
        f"| baseline: `papersift --version` (interpreter + imports) | {base_s:.1f} | "
        f"{base_mb:.0f} |",
        f"| cold: embeds the day's papers, the library and the background sample | "
        f"{cold_s:.1f} | {cold_mb:.0f} |",
        f"| warm: embeddings cached, digest ranked again | {warm_s:.1f} | {warm_mb:.0f} |",
        f"| rerun: digest already stored | {again_s:.1f} | {again_mb:.0f} |",
        "",
    ]


def bench_users(dump: Path, env: dict[str, str]) -> list[str]:
    """Per-user ranking cost, in this process, on the bench store (embedded once)."""
    from papersift.backtest import Corpus

    os.environ["PAPERSIFT_STORE_URL"] = env["PAPERSIFT_STORE_URL"]
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from users import measure

    return ["## Ranking cost per user (`benchmarks/users.py`)", "",
            *measure(Corpus.load(dump), ROOT.parent / "shared" / "data" / "lists",
                     "2025-09-15", "papersift", [1, 100, 1000])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dump", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    ap.add_argument("--day", default="2025-11-12")
    ap.add_argument("--embed-n", type=int, default=512)
    a = ap.parse_args()
    inputs.require(ap, a, "dump")
    work = Path(tempfile.mkdtemp(prefix="papersift-bench-"))
    env = dict(os.environ, PAPERSIFT_STORE_URL=f"sqlite:///{work / 'bench.sqlite'}",
               PAPERSIFT_DIGEST_OUT_DIR=str(work / "digests"), HF_HUB_OFFLINE="1")
    try:
        lines = ["# Benchmark results", "",
                 f"Command: `make bench` (`python benchmarks/run.py --dump {a.dump}`), run "
                 f"{time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
                 f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python "
                 f"{platform.python_version()}.", ""]
        lines += bench_import(a.dump, work, env)
        lines += bench_embed(env["PAPERSIFT_STORE_URL"], a.embed_n)
        lines += bench_daily(env, ROOT / "examples" / "demo.toml", a.day)
        lines += bench_users(a.dump, env)
        sections.write(a.out, {"core": lines})
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

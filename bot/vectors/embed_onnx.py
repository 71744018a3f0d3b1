"""A faster CPU path for sentence-transformers models: the same network exported to ONNX, optionally
with int8 weights, run by onnxruntime.

The export happens once per model and is cached as a file (it needs torch; later runs load only
onnxruntime and the tokenizer). Only models built like all-MiniLM-L6-v2 are supported: a BERT-style
transformer, mean pooling over the tokens, L2 normalisation.
Figures (bench/README.md): fp32 gives the same vectors as sentence-transformers; int8 (dynamic,
per-channel, MatMul only, as the integration notes advise) gives cosine >= 0.99 to them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.errors import UnsupportedModel
from storage.cpu import cpu_budget

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["OnnxModel", "export", "quiet_transformers"]

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _pooling(model_dir: Path) -> tuple[int, int]:
    """(dimension, max tokens) of a mean-pooling sentence-transformers model directory."""
    advice = "use the default torch backend (a model name without @onnx)"
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("models.Pooling"))
        pooling = json.loads((model_dir / pooling_dir / "config.json").read_text(encoding="utf-8"))
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise UnsupportedModel(
            f"{model_dir} is not a sentence-transformers model directory; {advice}"
        ) from exc
    others = [
        k
        for k, v in pooling.items()
        if k.startswith("pooling_mode_") and v and k != "pooling_mode_mean_tokens"
    ]
    if not pooling.get("pooling_mode_mean_tokens") or others:
        raise UnsupportedModel(f"{model_dir} does not use plain mean pooling; {advice}")
    return int(pooling["word_embedding_dimension"]), int(config.get("max_seq_length") or 512)


def _fingerprint(model_dir: Path, int8: bool) -> str:
    """Names the cached export: the weights' bytes, the tokenizer and the flavour."""
    digest = hashlib.sha256(b"int8" if int8 else b"fp32")
    for name in sorted(p.name for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin", ".json")):
        with (model_dir / name).open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:20]


def quiet_transformers() -> None:
    """No "Loading weights" progress bar from transformers: it came on every run that loads the
    model, noise for a user (paperbot says what it does in its own lines)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # unannotated upstream


def export(model_dir: Path, target: Path, *, int8: bool) -> None:
    """Export the transformer of `model_dir` to ONNX at `target` (int8 weights if asked), atomically."""
    import torch  # only the export needs torch
    from torch.jit._trace import TracerWarning
    from transformers import AutoModel, AutoTokenizer

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            hidden: torch.Tensor = out.last_hidden_state
            return hidden

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    example = tokenizer(["an example paper title. its abstract"], return_tensors="pt")
    if set(example) != set(INPUTS):
        raise UnsupportedModel(f"{model_dir} is not a BERT-style model; use the default torch backend")
    quiet_transformers()
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    dynamic = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        plain = Path(tmp) / "model.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            # torch 2.13 calls the TorchScript exporter legacy; it still ships and needs no onnxscript.
            # The tracer's notes on BERT's shape checks are expected: batch and length stay dynamic.
            warnings.filterwarnings(
                "ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning
            )
            warnings.filterwarnings("ignore", category=TracerWarning)
            # BERT indexes positions with non-negative indices only; tests compare every vector.
            warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
            torch.onnx.export(
                LastHiddenState(model),
                tuple(example[name] for name in INPUTS),
                str(plain),
                input_names=list(INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=dynamic,
                opset_version=17,
                dynamo=False,  # the TorchScript exporter needs no extra packages
            )
        final = plain
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            final = Path(tmp) / "model-int8.onnx"
            # quantize_dynamic logs advice to pre-process the graph first, which fails on this one.
            root = logging.getLogger()
            root.addFilter(hush := lambda r: "pre-processing before quantization" not in r.getMessage())
            try:
                # Per-channel MatMul weights only: per-tensor int8 loses far more accuracy.
                quantize_dynamic(
                    str(plain),
                    str(final),
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                    weight_type=QuantType.QInt8,
                )
            finally:
                root.removeFilter(hush)
        os.replace(final, target)


class OnnxModel:
    """Encodes texts like `SentenceTransformer.encode(..., normalize_embeddings=True)`."""

    def __init__(self, model_dir: Path, *, cache_dir: Path, int8: bool) -> None:
        from tokenizers import Tokenizer

        self.dim, max_tokens = _pooling(model_dir)
        path = (
            cache_dir / f"{model_dir.name}-{'int8' if int8 else 'fp32'}-{_fingerprint(model_dir, int8)}.onnx"
        )
        if not path.exists():
            # A warning so that the CLI shows it: this one run takes half a minute, later ones do not.
            log.warning("exporting the embedding model to ONNX once, about 30 s; later runs load %s", path)
            export(model_dir, path, int8=int8)
        self._session = self._open(path, model_dir, int8)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)

    @staticmethod
    def _open(path: Path, model_dir: Path, int8: bool) -> onnxruntime.InferenceSession:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = cpu_budget()
        try:
            return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        # A truncated or corrupt cache file: export again (onnxruntime raises types of its own).
        except Exception:
            path.unlink(missing_ok=True)
            export(model_dir, path, int8=int8)
            return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        # One text per run: on CPU that is the fastest (no padding; 50 emb/s fp32 and 79 int8 against
        # 31 and 47 in batches of 64), and int8's activation scales then never depend on the other
        # texts of a batch, so a text always gets the same vector.
        vectors = [self._one(text) for text in texts]
        return np.vstack(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float32)

    def _one(self, text: str) -> np.ndarray:
        encoding = self._tokenizer.encode(text)
        feed = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }
        mean = self._session.run(None, feed)[0][0].mean(axis=0)  # no padding: every token counts
        return np.asarray(mean / max(float(np.linalg.norm(mean)), 1e-12), dtype=np.float32)

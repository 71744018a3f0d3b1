"""The onnxruntime embedding path ("@onnx", "@onnx-int8") against the real sentence-transformers model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import col, select

from bot.config import DEFAULT_MODEL, load_settings, split_backend
from bot.errors import ConfigError, InvalidInput, UnsupportedModel
from bot.service import sample_feed_path
from bot.vectors.embed import Encoder, _model_path, listing_text
from storage import models
from storage.db import make_engine, session_scope
from tests.factories import make_bot

FP32 = f"{DEFAULT_MODEL}@onnx"
INT8 = f"{DEFAULT_MODEL}@onnx-int8"


@pytest.fixture(scope="module")
def texts(feeds_dir: Path) -> list[str]:
    papers = json.loads((feeds_dir.parent / "seed-papers.json").read_text(encoding="utf-8"))
    papers = papers["papers"] if isinstance(papers, dict) else papers
    return [listing_text(p["title"], p["abstract"]) for p in papers[:48]]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of exported models for this module (each export costs a few seconds)."""
    return tmp_path_factory.mktemp("onnx")


def test_fp32_gives_the_same_vectors_and_int8_nearly_the_same(
    encoder: Encoder, exports: Path, texts: list[str]
) -> None:
    reference = encoder.encode(texts)
    same = Encoder(FP32, cache_dir=exports).encode(texts)
    close = Encoder(INT8, cache_dir=exports).encode(texts)
    assert same.shape == close.shape == reference.shape and same.dtype == close.dtype == np.float32
    assert np.allclose(np.linalg.norm(close, axis=1), 1.0, atol=1e-5)
    assert (same * reference).sum(axis=1).min() > 0.9999
    cosines = (close * reference).sum(axis=1)
    assert cosines.min() > 0.985 and cosines.mean() > 0.99
    # int8 scales activations per run: a text's vector must not depend on what it is encoded with.
    assert np.array_equal(Encoder(INT8, cache_dir=exports).encode(texts[3:4])[0], close[3])


@pytest.mark.slow  # loads the model (in a subprocess or for an ONNX export)
def test_a_later_process_loads_the_cached_export_without_torch(exports: Path, texts: list[str]) -> None:
    Encoder(INT8, cache_dir=exports).encode(texts[:1])  # exported by now, whatever ran first
    cached = sorted(exports.glob("*.onnx"))
    stamps = [p.stat().st_mtime_ns for p in cached]
    code = (
        "import sys; from pathlib import Path; from bot.vectors.embed import Encoder; "
        f"v = Encoder({INT8!r}, cache_dir=Path({str(exports)!r})).encode(['a paper']); "
        "print(v.shape[1], 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["384", "False"]
    assert sorted(exports.glob("*.onnx")) == cached and [p.stat().st_mtime_ns for p in cached] == stamps


@pytest.mark.slow  # loads the model (in a subprocess or for an ONNX export)
def test_a_corrupt_cached_export_is_made_again(tmp_path: Path, texts: list[str], exports: Path) -> None:
    expected = Encoder(INT8, cache_dir=exports).encode(texts[:3])
    Encoder(INT8, cache_dir=tmp_path).encode(texts[:1])
    (cached,) = tmp_path.glob("*.onnx")
    cached.write_bytes(b"not an onnx model")
    again = Encoder(INT8, cache_dir=tmp_path).encode(texts[:3])
    assert np.allclose(again, expected, atol=1e-5) and cached.stat().st_size > 1_000_000


def test_unknown_backends_and_unsupported_models_say_what_to_do(tmp_path: Path) -> None:
    assert split_backend(INT8) == (DEFAULT_MODEL, "onnx-int8")
    assert split_backend("/models/me@work/minilm") == ("/models/me@work/minilm", "torch")
    with pytest.raises(ValueError, match="use @onnx or @onnx-int8"):
        Encoder(f"{DEFAULT_MODEL}@gpu")
    with pytest.raises(ConfigError, match=r"PAPERBOT_MODEL: .*unknown embedding backend 'gpu'"):
        load_settings(data_dir=tmp_path, model=f"{DEFAULT_MODEL}@gpu")

    # A copy of the bundled model that pools the [CLS] token instead of the mean.
    bundled = Path(_model_path(DEFAULT_MODEL))
    cls_model = tmp_path / "cls-model"
    (cls_model / "1_Pooling").mkdir(parents=True)
    for item in bundled.iterdir():
        if item.is_file():
            (cls_model / item.name).symlink_to(item)
    pooling = json.loads((bundled / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (cls_model / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    with pytest.raises(UnsupportedModel, match="mean pooling; use the default torch backend"):
        Encoder(f"{cls_model}@onnx", cache_dir=tmp_path).encode(["a paper"])
    with pytest.raises(UnsupportedModel, match="neither a directory nor in the local Hugging Face cache"):
        Encoder("no-such-org/no-such-model@onnx", cache_dir=tmp_path).encode(["a paper"])


@pytest.mark.slow  # loads the model (in a subprocess or for an ONNX export)
def test_the_service_on_int8_keeps_its_vectors_apart_and_still_ranks_equivariance_first(
    tmp_path: Path,
) -> None:
    bot = make_bot(tmp_path / "data", model=INT8)
    try:
        bot.ingest(sources=[str(sample_feed_path())])
        view = bot.subscribe(email="a@example.org", interests=["equivariant neural networks"])
        items = bot.recommend(subscriber_id=view.id, limit=5)
        with session_scope(bot.engine) as session:
            stored = set(session.exec(select(models.Embedding.model)).all())
    finally:
        bot.close()
    assert stored == {INT8}  # int8 vectors are keyed by their own name, never mixed with fp32 ones
    assert list((tmp_path / "data" / "models").glob("*-int8-*.onnx"))
    assert all("quivarian" in item.listing.title for item in items[:3]), [i.listing.title for i in items]


BIB = b"""@article{egnn, title={E(n) Equivariant Graph Neural Networks},
  abstract={We introduce a new model to learn graph neural networks equivariant to rotations,
  translations, reflections and permutations.}}
@article{old, title={Rotation equivariant convolutions for molecules},
  abstract={Molecular property prediction with rotation equivariant convolutional networks.}}"""


def test_changing_the_model_re_embeds_every_kind_of_interest_and_the_stored_listings(
    sample_template: Path, tmp_path: Path, encoder: Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(sample_template, data_dir)
    bot = make_bot(data_dir, encoder=encoder)
    try:
        with session_scope(bot.engine) as session:
            seed = session.exec(select(models.Listing.id).order_by(col(models.Listing.id))).first()
        view = bot.subscribe(
            email="a@example.org", interests=["graph neural networks"], seed_papers=[str(seed)], bib=BIB
        )
        other = bot.subscribe(email="b@example.org", interests=["single-cell genomics"])
        listings = len(bot.index)
        with session_scope(bot.engine) as session:
            before = {row.id: row.vector for row in session.exec(select(models.Interest)).all()}
            legacy = session.get(models.Interest, other.interests[0].id)
            assert legacy is not None
            legacy.text = None  # as a BibTeX import stored before seed texts were kept
            session.add(legacy)
    finally:
        bot.close()

    switched = make_bot(data_dir, model=FP32)
    try:
        assert switched.recommend(subscriber_id=view.id) == []  # nothing is embedded for @onnx yet
        assert switched.ingest().embedded == listings == len(switched.index)
        items = switched.recommend(subscriber_id=view.id, limit=10)
        with pytest.raises(InvalidInput, match="add one with"):
            switched.recommend(subscriber_id=other.id)  # its only interest cannot be embedded
        with session_scope(switched.engine) as session:
            rows = {row.id: row for row in session.exec(select(models.Interest)).all()}
    finally:
        switched.close()
    assert len(items) >= 3
    assert "cannot be embedded with" in caplog.text and "import it again" in caplog.text
    lost = rows[other.interests[0].id]
    assert lost.vector_model == DEFAULT_MODEL and lost.vector == before[lost.id]  # left as it was
    for interest in view.interests:  # text, seed paper, BibTeX: all re-embedded, to the same vectors
        row = rows[interest.id]
        assert row.vector_model == FP32
        old, new = (
            np.frombuffer(v or b"", dtype=np.float32).reshape(-1, 384) for v in (before[row.id], row.vector)
        )
        assert old.shape == new.shape and (old * new).sum(axis=1).min() > 0.9999


def test_the_interest_encoder_runs_the_onnx_export_to_the_models_own_vectors(
    encoder: Encoder, exports: Path, texts: list[str]
) -> None:
    short = ["protein design", "equivariant neural networks", "x", "Ünïcödé — “quotes” 日本語", "scRNA-seq"]
    sample = [*short, *texts, " ".join(texts[:4])]  # the last one is cut at the model's 256 tokens
    fast = Encoder(DEFAULT_MODEL, cache_dir=exports, same_vectors_on_onnx=True)
    vectors = fast.encode(sample)
    assert fast.model_name == DEFAULT_MODEL and fast.dim == 384
    assert "_model" not in vars(fast)  # the torch model was never loaded
    assert vectors.dtype == np.float32 and np.abs(vectors - encoder.encode(sample)).max() < 1e-6


def test_a_model_without_an_onnx_export_falls_back_to_torch(tmp_path: Path) -> None:
    unsupported = Encoder("no-such-org/no-such-model", cache_dir=tmp_path, same_vectors_on_onnx=True)
    assert unsupported._runs_on_onnx is False  # the same error as without the option comes from torch
    assert Encoder(INT8, cache_dir=tmp_path)._runs_on_onnx is True


@pytest.mark.slow  # exports the model once (torch), then runs real `paperbot` processes
def test_adding_an_interest_loads_no_torch_once_exported_and_stores_the_models_own_vector(
    tmp_path: Path, encoder: Encoder
) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "PAPERBOT_DATA_DIR": str(data_dir)}
    code = (
        "import sys\n"
        "from bot.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "torch = ('torch', 'sentence_transformers', 'transformers')\n"
        "print('TORCH', [m for m in torch if m in sys.modules])\n"
    )

    def paperbot(*args: str) -> subprocess.CompletedProcess[str]:
        run = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run

    first = paperbot("subscribe", "--email", "a@example.org", "--interest", "protein design")
    assert "exporting the embedding model to ONNX once" in first.stderr
    later = paperbot("profile", "add-interest", "1", "equivariant neural networks")
    assert "TORCH []" in later.stdout and "exporting" not in later.stderr
    engine = make_engine(f"sqlite:///{data_dir / 'paperbot.db'}")
    with session_scope(engine) as session:
        rows = session.exec(select(models.Interest).order_by(col(models.Interest.id))).all()
    engine.dispose()
    assert [(row.text, row.vector_model) for row in rows] == [
        ("protein design", DEFAULT_MODEL),
        ("equivariant neural networks", DEFAULT_MODEL),
    ]
    stored = np.stack([np.frombuffer(row.vector or b"", dtype=np.float32) for row in rows])
    assert np.abs(stored - encoder.encode([row.text or "" for row in rows])).max() < 1e-6

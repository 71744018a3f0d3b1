"""storage.index: the FAISS index of listing vectors, its persistence and its self-repair."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from storage.index import IndexState, VectorIndex, match, rebuild

DIM = 32
MODEL = "test-model"


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def brute_topk(queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]


class Db:
    """Stands in for the database: the loader `open` calls, counting calls."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.ids, self.vectors, self.calls = ids, vectors, 0

    def load_all(self) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        return self.ids, self.vectors

    @property
    def state(self) -> IndexState:
        return IndexState.of(self.ids)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def db(rng: np.random.Generator) -> Db:
    return Db(rng.permutation(np.arange(100, 400, dtype=np.int64)), unit(rng, 300))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "listings.faiss"


def open_index(path: Path, db: Db, *, dim: int = DIM, model: str = MODEL) -> VectorIndex:
    return VectorIndex.open(path, dim=dim, model=model, expected=db.state, load_all=db.load_all)


def rebuild_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "rebuilt" in r.msg]


# ---- in memory
def test_vectors_returns_the_stored_vectors_of_ids_it_holds(
    rng: np.random.Generator, db: Db, path: Path
) -> None:
    index = VectorIndex(path, dim=DIM, model=MODEL)
    index.add(db.ids, db.vectors)
    asked = np.array([db.ids[7], 99_999, db.ids[3], -5, db.ids[7] + 10_000], dtype=np.int64)
    found, vectors = index.vectors(asked)
    assert found.tolist() == [db.ids[7], db.ids[3]]  # unknown ids dropped, order kept
    np.testing.assert_array_equal(vectors, db.vectors[[7, 3]])
    found, vectors = index.vectors(np.array([], dtype=np.int64))
    assert found.shape == (0,) and vectors.shape == (0, DIM)


def test_search_finds_the_nearest_vectors(rng: np.random.Generator, db: Db, path: Path) -> None:
    index = VectorIndex(path, dim=DIM, model=MODEL)
    index.add(db.ids, db.vectors)
    queries = unit(rng, 7)

    scores, ids = index.search(queries, 10)

    want_scores, want_ids = brute_topk(queries, db.vectors, db.ids, 10)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    assert len(index) == 300
    assert index.state == db.state


def test_add_replaces_the_vector_of_an_existing_id(rng: np.random.Generator, path: Path) -> None:
    index = VectorIndex(path, dim=DIM, model=MODEL)
    old, new = unit(rng, 2)
    index.add(np.array([7, 8]), np.stack([old, unit(rng, 1)[0]]))

    index.add(np.array([7]), new[None])

    assert len(index) == 2
    scores, ids = index.search(new[None], 2)
    assert ids[0, 0] == 7 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    scores, ids = index.search(old[None], 2)
    assert scores[0, list(ids[0]).index(7)] == pytest.approx(float(old @ new), abs=1e-5)


def test_remove_drops_ids_and_ignores_unknown_ones(db: Db, path: Path) -> None:
    index = VectorIndex(path, dim=DIM, model=MODEL)
    index.add(db.ids, db.vectors)
    gone = db.ids[:50]

    index.remove(np.concatenate([gone, [999_999]]))

    assert len(index) == 250
    _, ids = index.search(db.vectors[:50], 5)
    assert not np.isin(ids, gone).any()
    assert index.state == IndexState.of(db.ids[50:])


def test_fewer_than_k_results_are_padded_with_minus_one(rng: np.random.Generator, path: Path) -> None:
    index = VectorIndex(path, dim=DIM, model=MODEL)
    index.add(np.array([1, 2, 3]), unit(rng, 3))

    _, ids = index.search(unit(rng, 2), 5)

    assert (ids[:, 3:] == -1).all() and set(ids[0, :3]) == {1, 2, 3}


def test_allowed_restricts_results_to_those_ids(rng: np.random.Generator, db: Db, path: Path) -> None:
    index = VectorIndex(path, dim=DIM, model=MODEL)
    index.add(db.ids, db.vectors)
    allowed = rng.choice(db.ids, 40, replace=False)
    queries = unit(rng, 5)

    scores, ids = index.search(queries, 8, allowed=allowed)

    mask = np.isin(db.ids, allowed)
    want_scores, want_ids = brute_topk(queries, db.vectors[mask], db.ids[mask], 8)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    _, none = index.search(queries, 3, allowed=np.array([], dtype=np.int64))
    assert (none == -1).all()


@pytest.mark.parametrize(
    ("ids", "vectors", "message"),
    [
        ([1, 1], 2, "unique"),
        ([-1], 1, ">= 0"),
        ([1, 2], 3, "2 ids for 3 vectors"),
    ],
)
def test_add_rejects_bad_input(
    rng: np.random.Generator, path: Path, ids: list[int], vectors: int, message: str
) -> None:
    index = VectorIndex(path, dim=DIM, model=MODEL)
    with pytest.raises(ValueError, match=message):
        index.add(np.array(ids), unit(rng, vectors))


def test_wrong_shapes_are_rejected(rng: np.random.Generator, path: Path) -> None:
    index = VectorIndex(path, dim=DIM, model=MODEL)
    with pytest.raises(ValueError, match=r"shape \(n, 32\)"):
        index.add(np.array([1]), unit(rng, 1, dim=8))
    with pytest.raises(ValueError, match="k must be"):
        index.search(unit(rng, 1), 0)


def test_empty_database_builds_an_empty_index(path: Path) -> None:
    """A loader over an empty table may return vectors of shape (0, 0): that is still no vectors."""
    db = Db(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))

    index = open_index(path, db)

    assert len(index) == 0 and index.state == db.state
    _, ids = index.search(np.ones((1, DIM), np.float32), 3)
    assert (ids == -1).all()


def test_index_state_ignores_order() -> None:
    assert IndexState.of(np.array([3, 1, 2])) == IndexState.of(np.array([1, 2, 3]))
    assert IndexState.of(np.array([1, 2, 3])) != IndexState.of(np.array([1, 2, 4]))
    assert IndexState.of(np.array([], dtype=np.int64)).count == 0


# ---- on disk


def test_save_then_open_round_trips_without_rebuilding(
    rng: np.random.Generator, db: Db, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = VectorIndex(path, dim=DIM, model=MODEL)
    index.add(db.ids, db.vectors)
    index.save()
    queries = unit(rng, 4)

    reopened = open_index(path, db)

    assert db.calls == 0 and not rebuild_warnings(caplog)
    for a, b in zip(index.search(queries, 10), reopened.search(queries, 10), strict=True):
        np.testing.assert_array_equal(a, b)
    meta = json.loads(path.with_name("listings.faiss.json").read_text())
    assert meta["model"] == MODEL and meta["dim"] == DIM and meta["count"] == 300
    assert meta["id_checksum"] == db.state.id_checksum
    assert sorted(p.name for p in path.parent.iterdir()) == ["listings.faiss", "listings.faiss.json"]


def test_missing_file_is_rebuilt_and_saved(db: Db, path: Path, caplog: pytest.LogCaptureFixture) -> None:
    index = open_index(path, db)

    assert db.calls == 1 and len(index) == 300 and index.state == db.state
    [warning] = rebuild_warnings(caplog)
    assert "missing" in warning and "300 vectors" in warning
    open_index(path, db)
    assert db.calls == 1  # the rebuilt file was saved and is now trusted


def test_the_first_index_of_a_fresh_data_dir_is_no_warning(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every first run used to say WARNING "rebuilt vector index … (0 vectors): missing"."""
    caplog.set_level(logging.INFO, logger="storage.index")
    empty = Db(np.zeros(0, dtype=np.int64), np.zeros((0, DIM), dtype=np.float32))
    index = open_index(path, empty)
    assert len(index) == 0 and path.exists()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", f"created the vector index {path}")
    ]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def _bit_flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # inside the vector data: FAISS would read it without complaint
    path.write_bytes(bytes(data))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _bad_metadata(path: Path) -> None:
    path.with_name(path.name + ".json").write_bytes(b"\xff{not json")


def _lost_metadata(path: Path) -> None:
    path.with_name(path.name + ".json").unlink()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate, "checksum"),
        (_garbage, "checksum"),
        (_bit_flip, "checksum"),
        (_empty, "checksum"),
        (_bad_metadata, "unreadable"),
        (_lost_metadata, "missing"),
    ],
)
def test_corrupt_file_is_rebuilt(
    db: Db, path: Path, caplog: pytest.LogCaptureFixture, damage: Callable[[Path], None], reason: str
) -> None:
    open_index(path, db)
    damage(path)
    caplog.clear()

    index = open_index(path, db)

    assert db.calls == 2 and index.state == db.state
    [warning] = rebuild_warnings(caplog)
    assert reason in warning


def test_file_faiss_cannot_read_is_rebuilt(db: Db, path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Garbage with a matching checksum, as if a bug wrote it: FAISS's error must not escape."""
    open_index(path, db)
    meta_path = path.with_name(path.name + ".json")
    meta = json.loads(meta_path.read_text())
    path.write_bytes(b"not a faiss index")
    meta["sha256"] = hashlib.sha256(b"not a faiss index").hexdigest()
    meta_path.write_text(json.dumps(meta))
    caplog.clear()

    index = open_index(path, db)

    assert len(index) == 300
    [warning] = rebuild_warnings(caplog)
    assert "FAISS cannot read it" in warning


@pytest.mark.parametrize(("model", "dim"), [("other-model", DIM), (MODEL, 16)])
def test_wrong_model_or_dim_is_rebuilt(
    rng: np.random.Generator, db: Db, path: Path, caplog: pytest.LogCaptureFixture, model: str, dim: int
) -> None:
    open_index(path, db)
    caplog.clear()
    db.vectors = unit(rng, 300, dim=dim)  # the caller re-embedded with the new model

    index = open_index(path, db, model=model, dim=dim)

    assert db.calls == 2 and index.dim == dim and index.model == model
    [warning] = rebuild_warnings(caplog)
    assert "built for 'test-model' dim 32" in warning


def test_stale_file_is_rebuilt(
    rng: np.random.Generator, db: Db, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    open_index(path, db)
    db.ids = np.concatenate([db.ids, [5000]])  # the database gained a listing the file never saw
    db.vectors = np.concatenate([db.vectors, unit(rng, 1)])
    caplog.clear()

    index = open_index(path, db)

    assert db.calls == 2 and len(index) == 301
    [warning] = rebuild_warnings(caplog)
    assert "stale" in warning and "count=300" in warning and "count=301" in warning


@pytest.fixture
def unwritable(path: Path) -> Iterator[Path]:
    """Make writing `path` fail. chmod 500 does not stop root, so then block the rename with a directory."""
    path.parent.mkdir(parents=True)
    path.parent.chmod(0o500)
    probe = path.parent / "probe"
    try:
        probe.touch()
    except PermissionError:
        pass
    else:  # running as root
        probe.unlink()
        path.parent.chmod(0o700)
        path.mkdir()  # replacing a directory with a file fails for everyone
    yield path
    path.parent.chmod(0o700)


def test_save_to_unwritable_place_logs_and_keeps_the_index_usable(
    rng: np.random.Generator, db: Db, unwritable: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = VectorIndex(unwritable, dim=DIM, model=MODEL)
    index.add(db.ids, db.vectors)

    index.save()

    assert any("could not save" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    _, ids = index.search(db.vectors[:3], 1)
    np.testing.assert_array_equal(ids[:, 0], db.ids[:3])
    assert not [p for p in os.listdir(unwritable.parent) if p.endswith(".tmp")]


def test_open_in_unwritable_place_still_serves(
    db: Db, unwritable: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = open_index(unwritable, db)

    assert len(index) == 300 and len(rebuild_warnings(caplog)) == 1
    _, ids = index.search(db.vectors[:1], 1)
    assert ids[0, 0] == db.ids[0]


def test_rebuild_command_raises_when_it_cannot_write(db: Db, unwritable: Path) -> None:
    with pytest.raises(OSError):
        rebuild(unwritable, dim=DIM, model=MODEL, load_all=db.load_all)


def test_rebuild_writes_a_file_open_trusts(db: Db, path: Path) -> None:
    rebuild(path, dim=DIM, model=MODEL, load_all=db.load_all)
    open_index(path, db)
    assert db.calls == 1


# ---- match


def test_match_equals_brute_force_top_k(rng: np.random.Generator) -> None:
    profiles, listings = unit(rng, 500), unit(rng, 200)
    ids = rng.choice(10**9, 200, replace=False).astype(np.int64)

    scores, got = match(profiles, listings, ids, 20)

    want_scores, want_ids = brute_topk(profiles, listings, ids, 20)
    np.testing.assert_array_equal(got, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_match_pads_with_minus_one_when_few_listings(rng: np.random.Generator) -> None:
    _, ids = match(unit(rng, 3), unit(rng, 2), np.array([10, 20]), 4)
    assert (ids[:, 2:] == -1).all()
    _, ids = match(unit(rng, 3), np.zeros((0, DIM), np.float32), np.array([], np.int64), 4)
    assert ids.shape == (3, 4) and (ids == -1).all()

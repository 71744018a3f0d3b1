"""The FAISS index of listing vectors, persisted beside the database and rebuildable from it.

The database is the source of truth; the index file is a cache of it. `VectorIndex.open` trusts the
file only when its sidecar metadata matches (model, dimension, a SHA-256 of the file bytes) and its id
set matches the database's (`IndexState`); otherwise it rebuilds from the caller's loader. This module
knows nothing of the schema: the caller passes `load_all` and the expected `IndexState`.

Files: `<path>` holds the serialised FAISS index, `<path>.json` its metadata. Both are written to a
temporary file in the same directory, fsynced and renamed over the target (aslite `open_atomic`), so a
reader never sees half a file; a crash between the two renames leaves a checksum mismatch, which the
next `open` repairs by rebuilding.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from storage.cpu import cpu_budget

__all__ = ["IndexState", "VectorIndex", "match", "rebuild"]

log = logging.getLogger(__name__)

_FORMAT = 1  # bump when the file layout or metadata keys change; old files are then rebuilt

Loader = Callable[[], tuple[np.ndarray, np.ndarray]]
Scores = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]


if "OMP_NUM_THREADS" not in os.environ:  # an explicit setting wins
    faiss.omp_set_num_threads(cpu_budget())


@dataclass(frozen=True)
class IndexState:
    """What the index should contain, cheap to compute from the database's listing ids."""

    count: int
    id_checksum: str

    @classmethod
    def of(cls, ids: np.ndarray) -> IndexState:
        """State of a set of ids, independent of their order."""
        ids = np.sort(_as_ids(ids))
        return cls(count=len(ids), id_checksum=hashlib.blake2b(ids.tobytes(), digest_size=16).hexdigest())


class _Unusable(Exception):
    """The file on disk cannot be used; the message says why."""


class VectorIndex:
    """Inner-product FAISS index (IndexIDMap2 over IndexFlatIP) of unit vectors keyed by listing id (int64).

    Methods take a lock, so ingest may add while a digest searches from another thread.
    """

    def __init__(self, path: Path, *, dim: int, model: str) -> None:
        """An empty index that will be saved to `path`."""
        self.path = path
        self.dim = dim
        self.model = model
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, dim: int, model: str, expected: IndexState, load_all: Loader) -> VectorIndex:
        """Load the index at `path`, or rebuild it from `load_all()` when it is missing, corrupt or stale.

        `load_all` returns (ids int64 (n,), vectors float32 (n, dim)) for every listing in the database.
        A rebuild is saved and logged as one WARNING; a failed save is logged too, never raised. The
        first index of a data dir (no file yet, nothing to hold) is no news: one INFO line.
        """
        try:
            index = cls._load(path, dim=dim, model=model)
        except _Unusable as exc:
            reason = str(exc)
        else:
            if index.state == expected:
                return index
            reason = f"stale: file has {index.state}, database has {expected}"
        index = cls._build(path, dim=dim, model=model, load_all=load_all)
        if expected.count == 0 and not path.exists():
            log.info("created the vector index %s", path)
        else:
            log.warning(
                "rebuilt vector index %s from the database (%d vectors): %s", path, len(index), reason
            )
        index.save()
        return index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: re-adding an id replaces its vector."""
        ids, vectors = _as_ids(ids), _as_matrix(vectors, self.dim, "vectors")
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids passed to add() must be unique within one call")
        if (ids < 0).any():
            raise ValueError("ids must be >= 0: -1 marks an empty search result")
        with self._lock:
            # IndexIDMap2 would keep both copies of a repeated id, so drop the old one first.
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> None:
        """Remove these ids; ids not in the index are ignored."""
        with self._lock:
            self._index.remove_ids(faiss.IDSelectorBatch(_as_ids(ids)))

    def search(self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None) -> tuple[Scores, Ids]:
        """Top-`k` listings per query by inner product: (scores (q, k), ids (q, k)).

        Where fewer than `k` listings qualify, ids are -1 and their scores are FAISS's -3.4e38.
        `allowed` restricts the results to those ids.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        queries = _as_matrix(queries, self.dim, "queries")
        params = None
        if allowed is not None:
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(_as_ids(allowed))  # hash set + bloom filter: O(1) lookups
        with self._lock:
            return self._index.search(queries, k, params=params)

    def vectors(self, ids: np.ndarray) -> tuple[Ids, npt.NDArray[np.float32]]:
        """The stored vectors of those `ids` that are in the index: (ids found, in the given order;
        vectors (found, dim))."""
        ids = _as_ids(ids)
        with self._lock:
            found = ids[np.isin(ids, faiss.vector_to_array(self._index.id_map))]
            vectors = self._index.reconstruct_batch(found) if len(found) else np.zeros((0, self.dim))
        return found, np.ascontiguousarray(vectors, dtype=np.float32)

    def save(self) -> None:
        """Write the index and its metadata atomically. On an OS error, log and keep going.

        The in-memory index stays usable; the next `open` rebuilds from the database.
        """
        try:
            self._write()
        except OSError as exc:
            log.warning("could not save vector index %s (%s); the next open rebuilds it", self.path, exc)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def state(self) -> IndexState:
        """The state of what is in memory now, to compare with `IndexState.of(database ids)`."""
        with self._lock:
            return IndexState.of(faiss.vector_to_array(self._index.id_map))

    # ---- persistence

    @property
    def _meta_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def _write(self) -> None:
        """`save` that raises OSError, for callers that must report a failed write."""
        with self._lock:
            data = faiss.serialize_index(self._index).data  # a memoryview: no copy to bytes
            ids = faiss.vector_to_array(self._index.id_map)
        state = IndexState.of(ids)
        meta = {
            "format": _FORMAT,
            "model": self.model,
            "dim": self.dim,
            "count": state.count,
            "id_checksum": state.id_checksum,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.path, data)
        _write_atomic(self._meta_path, json.dumps(meta, indent=1).encode())
        _fsync_dir(self.path.parent)

    @classmethod
    def _load(cls, path: Path, *, dim: int, model: str) -> VectorIndex:
        index = cls(path, dim=dim, model=model)
        try:
            meta = json.loads(index._meta_path.read_bytes())
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise _Unusable(f"missing {exc.filename}") from None
        except (OSError, ValueError) as exc:  # ValueError covers bad JSON and bad UTF-8
            raise _Unusable(f"unreadable: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise _Unusable(f"metadata is not format {_FORMAT}")
        if meta.get("model") != model or meta.get("dim") != dim:
            found = f"{meta.get('model')!r} dim {meta.get('dim')}"
            raise _Unusable(f"built for {found}, want {model!r} dim {dim}")
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise _Unusable("checksum mismatch: truncated or corrupted")
        try:
            loaded = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError as exc:
            raise _Unusable(f"FAISS cannot read it: {exc}") from None
        if not (
            isinstance(loaded, faiss.IndexIDMap2)
            and loaded.d == dim
            and loaded.metric_type == faiss.METRIC_INNER_PRODUCT
        ):
            raise _Unusable(f"not an inner-product IndexIDMap2 of dim {dim}")
        index._index = loaded
        return index

    @classmethod
    def _build(cls, path: Path, *, dim: int, model: str, load_all: Loader) -> VectorIndex:
        index = cls(path, dim=dim, model=model)
        ids, vectors = load_all()
        index.add(ids, vectors)
        return index


def rebuild(path: Path, *, dim: int, model: str, load_all: Loader) -> VectorIndex:
    """Build the index from `load_all()` and write it, for `paperbot index rebuild`.

    Unlike `VectorIndex.save`, a failed write raises OSError, so the command can report it.
    """
    index = VectorIndex._build(path, dim=dim, model=model, load_all=load_all)
    index._write()
    log.info("rebuilt vector index %s: %d vectors", path, len(index))
    return index


def match(queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int) -> tuple[Scores, Ids]:
    """Top-`k` of `vectors` for every query in one FAISS search: (scores (q, k), ids (q, k)).

    Answers all due profiles at once against the day's new listings; -1 where fewer than `k`.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    vectors = _as_matrix(vectors, vectors.shape[-1], "vectors")
    ids = _as_ids(ids)
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    index = faiss.IndexIDMap(faiss.IndexFlatIP(vectors.shape[1]))  # maps rows to ids in C++
    index.add_with_ids(vectors, ids)
    return index.search(_as_matrix(queries, vectors.shape[1], "queries"), k)


# ---- helpers


def _as_ids(ids: np.ndarray) -> Ids:
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
    return ids


def _as_matrix(x: np.ndarray, dim: int, name: str) -> npt.NDArray[np.float32]:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim >= 1 and len(x) == 0:  # an empty result often comes as shape (0,) or (0, 0)
        return np.zeros((0, dim), dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (n, {dim}), got {x.shape}")
    return x


def _write_atomic(path: Path, data: bytes | memoryview) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(directory: Path) -> None:
    """Make the renames durable: on Linux a rename is only on disk once its directory is fsynced."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Test helpers that build a real Paperbot on a given database (no mocks of our own code)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.service import Paperbot
from bot.vectors.embed import Encoder

__all__ = ["CachingEncoder", "make_bot"]


class CachingEncoder(Encoder):
    """The real model with a memo: each distinct text is embedded once per test session, and every
    later encode of it returns the same real vector (same model name, so stored vectors match)."""

    def __init__(self, inner: Encoder) -> None:
        super().__init__(inner.model_name, batch_size=inner.batch_size)
        self.inner = inner
        self._memo: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._memo]
        if missing:
            self._memo.update(zip(missing, self.inner.encode(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._memo[text] for text in texts])


def make_bot(
    data_dir: Path,
    database_url: str | None = None,
    *,
    encoder: Encoder | None = None,
    fetch_timeout: float = 30.0,
    **settings: object,
) -> Paperbot:
    # Seed papers never reach the real arXiv or Crossref from a test: port 9 (discard) refuses at once.
    values: dict[str, object] = {
        "data_dir": data_dir,
        "arxiv_api_url": "http://127.0.0.1:9/api/query",
        "crossref_api_url": "http://127.0.0.1:9/works",
        **settings,
    }
    if database_url:
        values["database_url"] = database_url
    return Paperbot(
        Settings(**values),  # type: ignore[arg-type]  # pydantic validates and coerces
        encoder=encoder,
        sleep=lambda _s: None,
        fetch_timeout=fetch_timeout,
    )


def bot_on_a_copy(template: Path, tmp_path: Path, encoder: Encoder) -> Iterator[Paperbot]:
    """A Paperbot on a private copy of a data dir built once (SQLite), closed afterwards."""
    data_dir = tmp_path / "data"
    shutil.copytree(template, data_dir)
    bot = make_bot(data_dir, encoder=encoder)
    yield bot
    bot.close()

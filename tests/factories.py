"""Test helpers that build a real Paperbot on a given database (no mocks of our own code)."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.embed import Encoder
from bot.service import Paperbot

__all__ = ["make_bot"]


def make_bot(
    data_dir: Path,
    database_url: str | None = None,
    *,
    encoder: Encoder | None = None,
    fetch_timeout: float = 30.0,
    **settings: object,
) -> Paperbot:
    values: dict[str, object] = {"data_dir": data_dir, **settings}
    if database_url:
        values["database_url"] = database_url
    return Paperbot(
        Settings(**values),
        encoder=encoder,
        sleep=lambda _s: None,  # type: ignore[arg-type]
        fetch_timeout=fetch_timeout,
    )

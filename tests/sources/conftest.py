"""Fixtures for the feed adapter tests: real recorded feeds from ../shared/data/feeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def feed(feeds_dir: Path) -> Callable[[str], bytes]:
    """The bytes of a recorded feed file, by file name."""

    def read(name: str) -> bytes:
        return (feeds_dir / name).read_bytes()

    return read

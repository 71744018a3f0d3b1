"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FEEDS = SHARED / "data" / "feeds"


@pytest.fixture(scope="session")
def feeds_dir() -> Path:
    if not FEEDS.is_dir():
        pytest.fail(f"real feed samples not found at {FEEDS}: tests expect ../shared beside the checkout")
    return FEEDS

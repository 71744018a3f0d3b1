"""scripts/build_sample.py and the bot/data/sample.atom it writes (shipped with the package)."""

from __future__ import annotations

import importlib.util
import sys
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest

from bot.ingest.sources import detect, parse

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "bot" / "data" / "sample.atom"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_sample", REPO / "scripts" / "build_sample.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_sample"] = module
    spec.loader.exec_module(module)
    return module


def test_sample_ships_inside_the_package() -> None:
    shipped = files("bot") / "data" / "sample.atom"
    assert shipped.read_bytes() == SAMPLE.read_bytes()


def test_sample_reads_back_into_321_papers() -> None:
    data = SAMPLE.read_bytes()
    assert detect(data) == "rss"
    listings = parse(data)
    assert len(listings) == 321
    assert all(listing.title and listing.abstract for listing in listings)
    assert len({listing.source_id for listing in listings}) == 321
    assert all(
        listing.source_id and listing.source_id.startswith("tag:paperbot,2025-01-06:seed-")
        for listing in listings
    )
    # the seed has no URLs: each paper opens as a search for its exact title
    assert all(
        listing.abs_url and listing.abs_url.startswith("https://www.semanticscholar.org/search?q=%22")
        for listing in listings
    )
    dates = [listing.published for listing in listings]
    assert all(date is not None and date.tzinfo is not None for date in dates)
    assert max(d for d in dates if d).isoformat() == "2025-01-06T09:00:00+00:00"
    assert min(d for d in dates if d).isoformat() > "2024-12-23"


def test_rebuilding_gives_identical_bytes(
    tmp_path: Path, feeds_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sample.atom"
    seed = feeds_dir.parent / "seed-papers.json"
    assert load_script().main(["--seed", str(seed), "--out", str(out)]) == 0
    assert out.read_bytes() == SAMPLE.read_bytes()
    assert "read 351 records, wrote 321 unique papers" in capsys.readouterr().out


def test_missing_seed_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert load_script().main(["--seed", str(tmp_path / "nope.json"), "--out", str(tmp_path / "x")]) == 1
    assert "Error: seed file" in capsys.readouterr().err

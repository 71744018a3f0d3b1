"""What a new user reads at 80 columns: tables that tell long sources apart, and a first run without
noise (no WARNING about an index that never existed, no "Loading weights" bar)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.test_cli import PAPERBOT

runner = CliRunner()
FEEDS = ("arxiv_rss_new_cs.AI_2026-04-27_trimmed.xml", "arxiv_rss_new_cs.CL_2026-04-27_trimmed.xml")


def column(output: str, number: int, *, key: int = 0) -> list[str]:
    """The cells of one column of a rich table, each folded cell joined back into one string; a row
    starts where column `key` has text."""
    cells: list[str] = []
    for line in output.splitlines():
        parts = line.split("│")
        if len(parts) < number + 2:
            continue
        first, cell = parts[key + 1].strip(), parts[number + 1].strip()
        if first or not cells:  # a new row starts where the first column has text
            cells.append(cell)
        else:
            cells[-1] += cell
    return cells


@pytest.fixture
def long_paths(tmp_path: Path, feeds_dir: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("PAPERBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "80")
    deep = tmp_path / "research" / "group-feeds" / "subscriptions" / "arxiv-daily"
    deep.mkdir(parents=True)
    return [str(shutil.copy(feeds_dir / name, deep / name)) for name in FEEDS]


def test_sources_list_and_ingest_show_each_long_path_whole_at_80_columns(long_paths: list[str]) -> None:
    for path in long_paths:
        assert runner.invoke(app, ["sources", "add", path]).exit_code == 0
    listed = runner.invoke(app, ["sources", "list"]).output
    assert max(map(len, listed.splitlines())) <= 80
    assert column(listed, 1) == long_paths
    ingested = runner.invoke(app, ["ingest", "--no-embed"])
    assert ingested.exit_code == 0, ingested.output
    assert column(ingested.output, 0, key=1) == long_paths


@pytest.mark.slow  # loads the model in a subprocess
def test_a_first_run_in_a_fresh_data_dir_prints_no_warning_and_no_loading_bar(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env |= {"PAPERBOT_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "80", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [PAPERBOT, "ingest", "--sample"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "321 new" in " ".join(done.stdout.split())
    assert "Loading weights" not in done.stderr, done.stderr
    assert "WARNING" not in done.stderr and "rebuilt vector index" not in done.stderr, done.stderr

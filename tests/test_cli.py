"""The CLI as a user runs it: exit codes, messages, --json output, and a fast --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAPERBOT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_init_creates_database(data_dir: Path) -> None:
    result = runner.invoke(app, ["init", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["data_dir"] == str(data_dir.resolve())
    assert (data_dir / "paperbot.db").exists()


def test_ingest_then_listings_json(feeds_dir: Path) -> None:
    feed = feeds_dir / "arxiv_rss_new_multicat_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml"
    result = runner.invoke(app, ["ingest", "--no-embed", str(feed)])
    assert result.exit_code == 0, result.output
    assert "4 new" in result.output

    listed = runner.invoke(app, ["listings", "--json"])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.output)
    assert len(items) == 4
    assert all(item["arxiv_id"] and item["title"] for item in items)

    again = json.loads(runner.invoke(app, ["ingest", "--no-embed", "--json", str(feed)]).output)
    assert again["totals"] == {"new": 0, "updated": 0, "duplicate": 0, "failed": 0}
    assert again["sources"][0]["status"] == "not_modified"  # unchanged file: Last-Modified from its mtime


def test_failed_source_sets_exit_code_and_says_why(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body>Service Unavailable</body></html>")
    result = runner.invoke(app, ["ingest", "--no-embed", str(page)])
    assert result.exit_code == 1
    assert "failed" in result.output and "HTML" in result.output


def test_sources_add_list_remove() -> None:
    added = runner.invoke(app, ["sources", "add", "arxiv:cs.LG"])
    assert added.exit_code == 0, added.output
    assert "https://rss.arxiv.org/rss/cs.LG" in added.output
    listed = json.loads(runner.invoke(app, ["sources", "list", "--json"]).output)
    assert [(s["url"], s["enabled"]) for s in listed] == [("https://rss.arxiv.org/rss/cs.LG", True)]
    removed = runner.invoke(app, ["sources", "remove", "arxiv:cs.LG"])
    assert removed.exit_code == 0, removed.output
    missing = runner.invoke(app, ["sources", "remove", "arxiv:math.AG"])
    assert missing.exit_code == 1
    assert "Error: no source" in missing.output


def test_bad_settings_and_dates_fail_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_SMTP_PORT", "twenty-five")
    result = runner.invoke(app, ["listings"])
    assert result.exit_code == 1
    assert "PAPERBOT_SMTP_PORT" in result.output
    monkeypatch.delenv("PAPERBOT_SMTP_PORT")
    monkeypatch.setenv("PAPERBOT_SMTP_HOTS", "mail.example.org")
    result = runner.invoke(app, ["listings"])
    assert result.exit_code == 1 and "unknown setting PAPERBOT_SMTP_HOTS" in result.output
    monkeypatch.delenv("PAPERBOT_SMTP_HOTS")
    result = runner.invoke(app, ["listings", "--since", "last tuesday"])
    assert result.exit_code == 1 and "YYYY-MM-DD" in result.output


def test_ingest_without_sources_says_what_to_do() -> None:
    result = runner.invoke(app, ["ingest"])
    assert result.exit_code == 1
    assert "paperbot sources add" in result.output


def test_help_imports_nothing_heavy() -> None:
    """--help must stay fast: no torch, no database layer, no FAISS (measured in the README)."""
    code = (
        "import sys\n"
        "from bot.cli import app\n"
        "try:\n    app(['ingest', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'sentence_transformers', 'sqlalchemy', 'faiss', 'sklearn')\n"
        "print('HEAVY', [m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


# Loading any of these costs from 0.2 s (FAISS) to 5 s (torch); a command that reads or writes a
# few rows needs none of them.
HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime", "sklearn", "faiss", "alembic")


def test_commands_that_do_not_embed_never_load_the_model_sklearn_faiss_or_alembic(
    feeds_dir: Path, data_dir: Path
) -> None:
    feed = feeds_dir / "arxiv_rss_new_multicat_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml"
    assert runner.invoke(app, ["ingest", "--no-embed", str(feed)]).exit_code == 0
    assert runner.invoke(app, ["sources", "add", "arxiv:cs.LG"]).exit_code == 0
    assert runner.invoke(app, ["subscribe", "--email", "a@example.org"]).exit_code == 0
    listing = json.loads(runner.invoke(app, ["listings", "--json"]).output)[0]["id"]
    code = (
        "import sys\n"
        "from bot.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    for command in (
        ["status"],
        ["listings", "--limit", "20"],
        ["sources", "list"],
        ["profile", "show", "1"],
        ["feedback", "1", str(listing), "up"],
    ):
        run = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True)
        assert run.returncode == 0, (command, run.stderr)
        assert "HEAVY []" in run.stdout, (command, run.stdout)


@pytest.mark.slow  # loads the model (in a subprocess or for an ONNX export)
def test_index_rebuild_reports_a_failed_write(data_dir: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["index", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "embedded 0 listings; index rebuilt: 0 vectors" in result.output
    (data_dir / "index.faiss").unlink()
    (data_dir / "index.faiss").mkdir()  # the rename onto it fails, even as root
    result = runner.invoke(app, ["index", "rebuild"])
    assert result.exit_code == 1
    assert "Error: cannot write the index" in result.output


@pytest.mark.slow  # loads the model (in a subprocess or for an ONNX export)
def test_index_rebuild_after_a_model_change_embeds_the_stored_listings(
    feeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = feeds_dir / "arxiv_rss_new_multicat_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml"
    assert runner.invoke(app, ["ingest", str(feed)]).exit_code == 0  # embedded with the default model
    subscribed = runner.invoke(
        app, ["subscribe", "--email", "a@example.org", "--interest", "language models"]
    )
    assert subscribed.exit_code == 0, subscribed.output
    monkeypatch.setenv("PAPERBOT_MODEL", "bundled:all-MiniLM-L6-v2@onnx-int8")
    hint = runner.invoke(app, ["recommend", "1"])
    assert hint.exit_code == 0 and "0 recommendations" in hint.output
    assert "Warning: 4 papers have no vector for bundled:all-MiniLM-L6-v2@onnx-int8" in hint.output
    assert "run `paperbot index rebuild`" in hint.output
    result = runner.invoke(app, ["index", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "embedded 4 listings; index rebuilt: 4 vectors" in result.output
    again = runner.invoke(app, ["index", "rebuild"])
    assert "embedded 0 listings; index rebuilt: 4 vectors" in again.output

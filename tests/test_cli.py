"""The CLI as a user runs it: exit codes, messages, --json output, and a fast --help."""

from __future__ import annotations

import json
import logging
import os
import re
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
    assert again["totals"] == {"new": 0, "updated": 0, "duplicate": 0, "skipped": 0, "failed": 0}
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


# Loading any of these costs from 0.2 s (FAISS) to 5 s (torch), SQLAlchemy with the SQLModel classes
# 0.5 s; a command that reads or writes a few rows needs none of them (bot.views reads with sqlite3).
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "torch",
    "sentence_transformers",
    "transformers",
    "onnxruntime",
    "sklearn",
    "faiss",
    "alembic",
    "procrastinate",
)


@pytest.mark.slow  # five paperbot processes
def test_commands_that_do_not_embed_never_load_the_orm_the_model_sklearn_faiss_or_alembic(
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


def test_distributed_mode_on_sqlite_says_in_one_line_that_it_needs_postgresql(data_dir: Path) -> None:
    for args in (["worker"], ["digest", "--all-due", "--defer"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        [line] = result.output.strip().splitlines()
        assert line.startswith("Error: ") and "needs PostgreSQL: set DATABASE_URL=postgresql://" in line
    unknown = runner.invoke(app, ["worker", "--queues", "deliver,nope"])
    assert unknown.exit_code == 1 and "Error: unknown queue nope" in unknown.output


def schedule_of(subscriber: int) -> list[tuple[str, str, str, int, int, bool]]:
    shown = json.loads(runner.invoke(app, ["profile", "show", str(subscriber), "--json"]).output)
    return [
        (s["frequency"], s["send_time"], s["timezone"], s["weekday"], s["digest_size"], s["always_send"])
        for s in shown["subscriptions"]
    ]


def test_subscribing_again_changes_nothing_that_was_not_given() -> None:
    first = runner.invoke(
        app,
        ["subscribe", "--email", "ada@example.org", "--at", "07:30", "--tz", "Europe/Berlin", "--size", "8"],
    )
    assert first.exit_code == 0, first.output
    subscriber = int(first.output.split()[-1])
    again = runner.invoke(app, ["subscribe", "--email", "ada@example.org", "--name", "Ada"])
    assert again.exit_code == 0, again.output
    assert schedule_of(subscriber) == [("daily", "07:30", "Europe/Berlin", 0, 8, False)]
    runner.invoke(app, ["subscribe", "--email", "ada@example.org", "--size", "5"])
    assert schedule_of(subscriber) == [("daily", "07:30", "Europe/Berlin", 0, 5, False)]


def test_subscription_set_changes_only_what_is_given() -> None:
    created = json.loads(runner.invoke(app, ["subscribe", "--email", "bo@example.org", "--json"]).output)
    subscriber, subscription = created["id"], created["subscriptions"][0]["id"]
    result = runner.invoke(
        app, ["subscription", "set", str(subscription), "--frequency", "weekly", "--weekday", "thursday"]
    )
    assert result.exit_code == 0, result.output
    assert "weekly on thursday at 08:00 UTC, 10 papers" in result.output
    changed = runner.invoke(
        app, ["subscription", "set", str(subscription), "--at", "18:15", "--tz", "Asia/Tokyo", "--size", "3"]
    )
    assert changed.exit_code == 0, changed.output
    assert schedule_of(subscriber) == [("weekly", "18:15", "Asia/Tokyo", 3, 3, False)]
    runner.invoke(app, ["subscription", "set", str(subscription), "--weekday", "6", "--always-send"])
    assert schedule_of(subscriber) == [("weekly", "18:15", "Asia/Tokyo", 6, 3, True)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weekday", "someday"], "weekday 'someday' is not a day"),
        (["--at", "25:00"], "time '25:00' is not HH:MM"),
        (["--tz", "Mars/Olympus"], "time zone 'Mars/Olympus' is unknown"),
        (["--size", "0"], "digest size 0 must be between 1 and 50"),
        (["--frequency", "hourly"], "frequency 'hourly' is not one of"),
        ([], "nothing to change"),
    ],
)
def test_subscription_set_refuses_bad_values_and_keeps_the_schedule(args: list[str], message: str) -> None:
    created = json.loads(runner.invoke(app, ["subscribe", "--email", "cy@example.org", "--json"]).output)
    result = runner.invoke(app, ["subscription", "set", str(created["subscriptions"][0]["id"]), *args])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and message in result.output
    assert schedule_of(created["id"]) == [("daily", "08:00", "UTC", 0, 10, False)]


def test_subscription_set_of_an_unknown_id_says_so() -> None:
    result = runner.invoke(app, ["subscription", "set", "99", "--size", "5"])
    assert result.exit_code == 1 and "Error: no subscription 99" in result.output


PAPERBOT = str(Path(sys.executable).with_name("paperbot"))  # the console script beside this Python


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("no-such-org/no-such-model", "'no-such-org/no-such-model' is neither a local directory nor in"),
        ("all-MiniLM-L12-v2", "huggingface-cli download sentence-transformers/all-MiniLM-L12-v2"),
        ("./models/missing", "directory './models/missing' does not exist"),
        ("bundled:all-mpnet-base-v2", "'bundled:all-mpnet-base-v2' is not bundled"),
        ("bundled:all-MiniLM-L6-v2@gpu", "unknown embedding backend 'gpu'"),
    ],
)
@pytest.mark.slow  # a paperbot process per case
def test_a_model_that_is_not_there_stops_init_with_one_line(
    data_dir: Path, tmp_path: Path, model: str, message: str
) -> None:
    """It used to end in a 72-115-line traceback after 9 s of loading torch, while init accepted it."""
    done = run_paperbot(["init"], data_dir=data_dir, model=model, hf_cache=tmp_path / "hf")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("Error: invalid configuration: PAPERBOT_MODEL: ") and message in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert not (data_dir / "paperbot.db").exists()


@pytest.mark.parametrize("command", ["status", "ingest --sample", "recommend 1"])
@pytest.mark.slow  # a paperbot process per case
def test_a_model_that_is_not_there_stops_other_commands_before_any_work(
    data_dir: Path, tmp_path: Path, command: str
) -> None:
    done = run_paperbot(command.split(), data_dir=data_dir, model="no-such/model", hf_cache=tmp_path / "hf")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "PAPERBOT_MODEL: model 'no-such/model' is neither" in done.stderr
    assert not (data_dir / "paperbot.db").exists()


def run_paperbot(
    args: list[str], *, data_dir: Path, model: str, hf_cache: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env |= {"PAPERBOT_DATA_DIR": str(data_dir), "PAPERBOT_MODEL": model, "HF_HUB_CACHE": str(hf_cache)}
    return subprocess.run([PAPERBOT, *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_model_in_the_local_hugging_face_cache_or_a_directory_is_accepted(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = tmp_path / "hf" / "models--sentence-transformers--all-MiniLM-L12-v2" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    for model in ("all-MiniLM-L12-v2", "sentence-transformers/all-MiniLM-L12-v2@onnx", str(snapshot)):
        monkeypatch.setenv("PAPERBOT_MODEL", model)
        result = runner.invoke(app, ["init"])
        assert result.exit_code == 0, result.output


def test_exit_codes_are_the_ones_the_readme_gives() -> None:
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert "`Error: …`, saying what to do, and exit with code 1" in readme
    assert "prints the usage and exits with code 2" in readme
    for usage_error in (["recommend", "abc"], ["listings", "--bogus"], ["feedback", "1"]):
        result = runner.invoke(app, usage_error)
        assert result.exit_code == 2, (usage_error, result.output)
        assert "Usage: " in result.output
    domain_error = runner.invoke(app, ["profile", "show", "42"])
    assert domain_error.exit_code == 1 and domain_error.output.startswith("Error: no subscriber 42")


def test_sources_add_refuses_a_path_that_is_not_a_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sources", "add", "./feeds/missing.xml"])
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert "missing.xml is not a file; give the path of a feed file, or a URL" in result.output
    assert json.loads(runner.invoke(app, ["sources", "list", "--all", "--json"]).output) == []


def test_sources_add_stores_a_relative_path_absolute_and_remove_finds_it(
    feeds_dir: Path, tmp_path: Path
) -> None:
    feed = tmp_path / "feeds" / "cs.xml"
    feed.parent.mkdir()
    feed.write_bytes(
        (feeds_dir / "arxiv_rss_new_multicat_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml").read_bytes()
    )
    added = runner.invoke(app, ["sources", "add", "feeds/cs.xml"])  # the tests run in tmp_path
    assert added.exit_code == 0 and f"added source 1: {feed.resolve()}" in added.output
    assert runner.invoke(app, ["sources", "remove", "./feeds/cs.xml"]).exit_code == 0


def test_removing_a_removed_source_says_so() -> None:
    assert runner.invoke(app, ["sources", "add", "arxiv:cs.LG"]).exit_code == 0
    assert runner.invoke(app, ["sources", "remove", "arxiv:cs.LG"]).exit_code == 0
    again = runner.invoke(app, ["sources", "remove", "arxiv:cs.LG"])
    assert again.exit_code == 1
    assert again.output.startswith("Error: source 1 (https://rss.arxiv.org/rss/cs.LG) was not added")
    assert "`paperbot sources purge` forgets it" in again.output


def test_one_off_ingests_and_removed_sources_leave_list_and_status_and_can_be_purged(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body>Service Unavailable</body></html>")
    assert runner.invoke(app, ["ingest", "--no-embed", str(page)]).exit_code == 1  # one-off, failed
    assert runner.invoke(app, ["sources", "add", "arxiv:cs.LG"]).exit_code == 0
    assert runner.invoke(app, ["sources", "add", "biorxiv:genomics"]).exit_code == 0
    assert runner.invoke(app, ["sources", "remove", "biorxiv:genomics"]).exit_code == 0

    def urls(*args: str) -> list[str]:
        return [s["url"] for s in json.loads(runner.invoke(app, ["sources", "list", "--json", *args]).output)]

    assert urls() == ["https://rss.arxiv.org/rss/cs.LG"]
    assert urls("--all") == [
        str(page),
        "https://rss.arxiv.org/rss/cs.LG",
        "https://connect.biorxiv.org/biorxiv_xml.php?subject=genomics",
    ]
    status = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert [s["url"] for s in status["sources"]] == ["https://rss.arxiv.org/rss/cs.LG"]
    purged = runner.invoke(app, ["sources", "purge"])
    assert purged.exit_code == 0 and "purged 2 sources that were not configured" in purged.output
    assert urls("--all") == ["https://rss.arxiv.org/rss/cs.LG"]


def test_records_that_cannot_be_read_are_reported_per_source(tmp_path: Path) -> None:
    record = {
        "doi": "10.1101/2026.11.20.123456",
        "title": "Single-cell atlases of the developing kidney",
        "authors": "Hou, N.; Wu, Z.",
        "version": "1",
        "server": "biorxiv",
        "date": "2026-11-20",
        "category": "genomics",
        "abstract": "We map every cell.",
    }
    feed = tmp_path / "details.json"
    feed.write_text(json.dumps({"collection": [{"title": 1}, record, "not a record"]}))
    result = runner.invoke(app, ["ingest", "--no-embed", "--json", str(feed)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["sources"][0] | {"source": ""} == {
        "source": "",
        "status": "ok",
        "family": "biorxiv",
        "new": 1,
        "updated": 0,
        "duplicate": 0,
        "skipped": 2,
        "error": None,
    }
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"collection": [{"title": 1}]}))
    table = runner.invoke(app, ["ingest", "--no-embed", str(broken)])
    assert "0 new, 0 updated, 0 duplicate, 1 skipped as unreadable, 0 failed" in " ".join(
        table.output.split()
    )


@pytest.mark.slow
def test_the_demo_digest_links_every_paper_and_dates_the_papers_it_shows(data_dir: Path) -> None:
    """The first thing a newcomer sees: every item opens somewhere, and the header gives the dates of
    the papers shown (the sample is from Dec 2024 - Jan 2025), not today's window."""
    result = runner.invoke(app, ["demo", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    (digest,) = shown["digests"]
    assert digest["status"] == "sent" and digest["items"] >= 1
    html = Path(shown["outbox"][-1]).read_text()
    (header,) = re.findall(r'class="range"[^>]*>([^<]+)<', html)
    assert re.fullmatch(
        r"Papers published \w{3} \d+( \w{3}( 2024)?)? – \w{3} \d+ (Dec 2024|Jan 2025)", header
    ), header
    searches = set(re.findall(r'href="(https://www\.semanticscholar\.org/search\?q=[^"]+)"', html))
    assert len(searches) == digest["items"]


def test_digest_without_arguments_says_what_to_give() -> None:
    neither = runner.invoke(app, ["digest"])
    assert neither.exit_code == 1 and "not both" not in neither.output
    assert neither.output.startswith("Error: give a SUBSCRIBER id (see `paperbot profile show`) or --all-due")
    both = runner.invoke(app, ["digest", "1", "--all-due"])
    assert both.exit_code == 1 and "not both" in both.output


def test_listings_shows_the_newest_fifty_and_says_how_to_see_more(feeds_dir: Path) -> None:
    feed = feeds_dir / "arxiv_rss_new_multicat_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml"
    assert runner.invoke(app, ["ingest", "--no-embed", str(feed)]).exit_code == 0
    assert runner.invoke(app, ["listings"]).output.endswith("4 listings\n")
    few = runner.invoke(app, ["listings", "--limit", "1"])
    assert few.output.endswith("1 listing (the newest of 4; --limit N shows more)\n")
    assert (
        "--limit" in runner.invoke(app, ["listings", "--help"]).output
        and "50" in runner.invoke(app, ["listings", "--help"]).output
    )


def test_demo_help_is_whole_sentences() -> None:
    summary = " ".join(runner.invoke(app, ["--help"]).output.replace("│", " ").split())
    assert "Try paperbot offline: ingest the bundled sample, subscribe a demo reader and write" in summary


def test_a_repeated_vote_is_logged_as_already_recorded(
    feeds_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = feeds_dir / "arxiv_rss_new_multicat_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml"
    assert runner.invoke(app, ["ingest", "--no-embed", str(feed)]).exit_code == 0
    assert runner.invoke(app, ["subscribe", "--email", "ada@example.org"]).exit_code == 0
    caplog.set_level(logging.INFO, logger="paperbot")
    assert runner.invoke(app, ["feedback", "1", "2", "up"]).output == "recorded up on listing 2\n"
    assert runner.invoke(app, ["feedback", "1", "2", "up"]).output == "already recorded\n"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("feedback:")]
    assert lines == [
        "feedback: subscriber 1 up listing 2 via cli",
        "feedback: subscriber 1 up listing 2 via cli already recorded",
    ]


def test_saved_lists_exports_bibtex_and_says_when_empty(feeds_dir: Path) -> None:
    from bibtexparser.entrypoint import parse_string

    feed = feeds_dir / "arxiv_rss_new_multicat_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml"
    assert runner.invoke(app, ["ingest", "--no-embed", str(feed)]).exit_code == 0
    assert runner.invoke(app, ["subscribe", "--email", "a@example.org"]).exit_code == 0
    empty = runner.invoke(app, ["saved", "1"])
    assert empty.exit_code == 0 and "no saved papers" in empty.output
    listings = json.loads(runner.invoke(app, ["listings", "--json"]).output)
    for listing, vote in zip(listings[:3], ("save", "up", "save"), strict=True):
        assert runner.invoke(app, ["feedback", "1", str(listing["id"]), vote]).exit_code == 0

    saved = json.loads(runner.invoke(app, ["saved", "1", "--json"]).output)
    assert sorted(p["id"] for p in saved) == sorted([listings[0]["id"], listings[2]["id"]])
    liked = json.loads(runner.invoke(app, ["saved", "1", "--json", "--liked"]).output)
    assert len(liked) == 3

    bib = runner.invoke(app, ["saved", "1", "--bib"])
    assert bib.exit_code == 0
    library = parse_string(bib.output)
    assert not library.failed_blocks and len(library.entries) == 2
    for entry in library.entries:
        fields = {f.key: f.value for f in entry.fields}
        assert entry.entry_type == "misc" and fields["archiveprefix"] == "arXiv"
        assert {"title", "author", "year", "eprint", "url"} <= set(fields)
    titles = {e.fields_dict["title"].value.strip("{}") for e in library.entries}
    assert titles == {listings[0]["title"], listings[2]["title"]}

    missing = runner.invoke(app, ["saved", "99"])
    assert missing.exit_code == 1 and "Error: no subscriber 99" in missing.output


def test_eval_refuses_an_unknown_corpus_or_protocol_before_loading_anything(data_dir: Path) -> None:
    dataset = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "citeulike-a"
    corpus = runner.invoke(app, ["eval", "-d", str(dataset), "--corpus", "fulltext"])
    assert corpus.exit_code != 0 and "--corpus 'fulltext' must be one of abstracts, titles" in corpus.output
    protocol = runner.invoke(app, ["eval", "-d", str(dataset), "--protocol", "pairs"])
    assert protocol.exit_code != 0 and "must be one of single, multi, text" in protocol.output

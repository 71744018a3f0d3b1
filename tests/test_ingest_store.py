"""Ingest into a real database (SQLite and PostgreSQL): every real feed, dedup, merge, idempotence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.service import Paperbot
from storage import models
from storage.db import session_scope
from tests.factories import make_bot

# Files whose content is an error response: they store nothing and report why.
ERROR_FILES = {"arxiv_api_error_incorrect_id_http400_2026-04-12.atom.xml", "pubmed_esearch_2026-06.json"}


@pytest.fixture
def bot(tmp_path: Path, database_url: str) -> Iterator[Paperbot]:
    bot = make_bot(tmp_path / "data", database_url)
    yield bot
    bot.close()


def all_rows(bot: Paperbot) -> list[dict[str, object]]:
    with session_scope(bot.engine) as session:
        rows = session.exec(select(models.Listing).order_by(models.Listing.canonical_id)).all()
        return [row.model_dump(exclude={"last_seen"}) for row in rows]


def feed_files(feeds_dir: Path) -> list[Path]:
    return sorted(p for p in feeds_dir.iterdir() if p.name != "README.md")


@pytest.mark.slow  # every real feed, twice, on each database
def test_every_real_feed_ingests_and_rerun_changes_nothing(
    bot: Paperbot, feeds_dir: Path, tmp_path: Path
) -> None:
    files = feed_files(feeds_dir)
    report = bot.ingest(sources=[str(p) for p in files], embed=False)
    by_name = {Path(r.source).name: r for r in report.sources}
    for name, r in by_name.items():
        if name in ERROR_FILES:
            assert r.status == "failed" and r.error, name
        else:
            assert r.status == "ok", (name, r.error)
    assert by_name["hf_daily_papers_api_2026-06.json"].new == 30
    assert by_name["arxiv_api_query_all-testing_m100_2026-04-12.atom.xml"].new == 100
    assert by_name["arxiv_api_empty_result_2026-04-12.atom.xml"].new == 0
    stored = bot.count_listings()
    assert stored == report.totals["new"] > 400

    failed = {v.url: v for v in bot.list_sources(everything=True) if v.last_error}
    assert {Path(url).name for url in failed} == ERROR_FILES

    before = all_rows(bot)
    unchanged = bot.ingest(sources=[str(p) for p in files], embed=False)
    assert {r.status for r in unchanged.sources} == {"not_modified", "failed"}
    # Copies have new mtimes, so they are parsed and stored again: every paper is a duplicate.
    copies = tmp_path / "copies"
    copies.mkdir()
    for path in files:
        (copies / path.name).write_bytes(path.read_bytes())
    again = bot.ingest(sources=[str(copies / p.name) for p in files], embed=False)
    assert again.totals["new"] == 0 and again.totals["updated"] == 0
    assert again.totals["duplicate"] == report.totals["new"] + report.totals["duplicate"]
    assert all_rows(bot) == before


def hf_record_as_arxiv_atom(record: dict[str, object], version: int, abstract: str) -> bytes:
    """An arXiv API entry for the same paper as a real HF daily-papers record (same id, title, authors)."""
    paper = record["paper"]
    assert isinstance(paper, dict)
    authors = "".join(f"<author><name>{a['name']}</name></author>" for a in paper["authors"])
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <title>arXiv Query: id_list={paper["id"]}</title>
  <id>http://arxiv.org/api/x</id><updated>2026-06-12T00:00:00Z</updated>
  <entry>
    <id>http://arxiv.org/abs/{paper["id"]}v{version}</id>
    <updated>2026-06-12T00:00:00Z</updated><published>2026-05-30T00:00:00Z</published>
    <title>{paper["title"]}</title>
    <summary>{abstract}</summary>
    {authors}
    <link href="http://arxiv.org/abs/{paper["id"]}v{version}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{paper["id"]}v{version}" rel="related"
          type="application/pdf"/>
    <arxiv:primary_category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>""".encode()


def test_same_paper_from_hf_and_arxiv_is_one_listing_with_merged_fields(
    bot: Paperbot, feeds_dir: Path, tmp_path: Path
) -> None:
    hf_file = feeds_dir / "hf_daily_papers_api_2026-06.json"
    record = json.loads(hf_file.read_text())[0]
    arxiv_id, upvotes = record["paper"]["id"], record["paper"]["upvotes"]
    v1 = tmp_path / "arxiv_v1.xml"
    v1.write_bytes(hf_record_as_arxiv_atom(record, 1, record["paper"]["summary"]))

    bot.ingest(sources=[str(hf_file)], embed=False)
    report = bot.ingest(sources=[str(v1)], embed=False)
    assert (report.totals["new"], report.totals["updated"]) == (0, 1)
    [listing] = [x for x in bot.listings() if x.arxiv_id == arxiv_id]
    assert set(listing.sources) == {"hf_daily", "arxiv_api"}
    assert listing.upvotes == upvotes  # from HF
    assert listing.categories == ("cs.CL",)  # from arXiv
    assert listing.version == 1 and listing.pdf_url and "arxiv.org/pdf" in listing.pdf_url

    v2 = tmp_path / "arxiv_v2.xml"
    v2.write_bytes(hf_record_as_arxiv_atom(record, 2, "A revised abstract &amp; a new result."))
    bot.ingest(sources=[str(v2)], embed=False)
    [listing] = [x for x in bot.listings() if x.arxiv_id == arxiv_id]
    assert listing.version == 2
    assert listing.abstract == "A revised abstract & a new result."
    assert listing.upvotes == upvotes
    assert bot.count_listings() == 30


def test_failing_source_is_reported_and_others_still_ingest(
    bot: Paperbot, feeds_dir: Path, tmp_path: Path
) -> None:
    html = tmp_path / "error.html"
    html.write_bytes(
        b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>busy</body></html>"
    )
    truncated = tmp_path / "truncated.xml"
    full = (feeds_dir / "plos_compbiol_atom_2025-04-13.xml").read_bytes()
    truncated.write_bytes(full[: len(full) // 2])
    good = feeds_dir / "arxiv_rss_new_cs.AI_2026-04-27_trimmed.xml"
    report = bot.ingest(
        sources=[str(html), str(good), str(truncated), str(tmp_path / "missing.xml")], embed=False
    )
    statuses = {Path(r.source).name: (r.status, r.error) for r in report.sources}
    assert statuses["arxiv_rss_new_cs.AI_2026-04-27_trimmed.xml"][0] == "ok"
    for name in ("error.html", "missing.xml"):
        status, error = statuses[name]
        assert status == "failed" and error, name
    assert "HTML" in (statuses["error.html"][1] or "")
    assert bot.count_listings() == 3 + report.sources[2].new
    assert report.totals["failed"] >= 2

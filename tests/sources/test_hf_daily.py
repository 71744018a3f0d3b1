"""bot.ingest.sources.hf_daily: Hugging Face daily papers JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.errors import FeedFormatError
from bot.ingest.sources import hf_daily

DAILY = "hf_daily_papers_api_2026-06.json"


def test_fields_and_upvotes(feed: Callable[[str], bytes]) -> None:
    data = feed(DAILY)
    listings = {listing.arxiv_id: listing for listing in hf_daily.parse(data)}
    top = listings["2606.13681"]
    assert top.upvotes == 118
    assert top.title == "EvoArena: Tracking Memory Evolution for Robust LLM Agents in Dynamic Environments"
    assert top.authors[:3] == ("Jundong Xu", "Qingchuan Li", "Jiaying Wu")
    assert top.published == datetime(2026, 6, 11, tzinfo=UTC)
    assert top.abs_url == "https://arxiv.org/abs/2606.13681"
    assert top.pdf_url == "https://arxiv.org/pdf/2606.13681"
    assert top.version is None and top.source_id == "2606.13681"
    assert all(listing.upvotes is not None and listing.abstract for listing in listings.values())
    raw = {item["paper"]["id"]: item["paper"]["upvotes"] for item in json.loads(data)}
    assert {arxiv_id: listing.upvotes for arxiv_id, listing in listings.items()} == raw


def test_plain_text_abstract_keeps_angle_brackets(feed: Callable[[str], bytes]) -> None:
    abstracts = " ".join(listing.abstract for listing in hf_daily.parse(feed(DAILY)))
    assert "emits <swi> to enter latent mode and </swi> to exit" in abstracts  # tokens, not HTML


def test_missing_paper_object_and_bad_values_do_not_crash() -> None:
    data = json.dumps(
        [
            {"title": "Only top level", "summary": "S", "publishedAt": "2026-06-01T00:00:00Z"},
            {"paper": {"id": "2606.00001", "title": "T", "upvotes": True, "authors": [None, {"name": 3}]}},
            {"paper": {"id": "2606.00002"}},  # no title anywhere: skipped
            "not an object",
        ]
    ).encode()
    listings = hf_daily.parse(data)
    assert [(x.title, x.arxiv_id, x.upvotes, x.authors) for x in listings] == [
        ("Only top level", None, None, ()),
        ("T", "2606.00001", None, ()),
    ]


def test_not_an_array() -> None:
    with pytest.raises(FeedFormatError, match="daily papers JSON array"):
        hf_daily.parse(b'{"error": "Invalid date"}')


def test_latin1_json_decodes() -> None:
    record = {"title": "Étude", "paper": {"id": "2606.00003"}}
    data = json.dumps([record], ensure_ascii=False).encode("latin-1")
    [listing] = hf_daily.parse(data)
    assert listing.title == "Étude"

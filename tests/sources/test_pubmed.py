"""bot.ingest.sources.pubmed: efetch XML; esearch responses point at efetch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.errors import FeedFormatError
from bot.ingest.sources import detect, pubmed

EFETCH = "pubmed_efetch_2026-06.xml"


def test_efetch_fields(feed: Callable[[str], bytes]) -> None:
    listings = pubmed.parse(feed(EFETCH))
    pmids = ["42286391", "42286351", "42286322", "42286178", "42286177"]
    assert [listing.source_id for listing in listings] == pmids
    first = listings[0]
    assert first.title.startswith("Early timepoint 99mTc-DPD whole body scintigraphy")
    assert first.doi == "10.1186/s13550-026-01466-0"  # the article's own, not a reference's
    assert first.abstract.startswith("Background: Cardiac transthyretin amyloidosis (ATTR-CM)")
    assert " Results: 50 patients" in first.abstract and " Conclusions: Early " in first.abstract
    assert first.authors[:2] == ("Stephan Settelmeier", "Lukas Kessler")
    assert first.abs_url == "https://pubmed.ncbi.nlm.nih.gov/42286391/"
    assert first.published == datetime(2026, 6, 12, tzinfo=UTC)
    assert all(listing.doi for listing in listings)


def test_esearch_json_points_at_efetch(feed: Callable[[str], bytes]) -> None:
    data = feed("pubmed_esearch_2026-06.json")
    assert detect(data) == "pubmed"
    with pytest.raises(FeedFormatError) as raised:
        pubmed.parse(data)
    assert raised.value.message.endswith(
        "efetch.fcgi?db=pubmed&retmode=xml&id=42286391,42286351,42286322,42286178,42286177"
    )


def test_esearch_xml_points_at_efetch() -> None:
    data = b"<eSearchResult><Count>2</Count><IdList><Id>1</Id><Id>2</Id></IdList></eSearchResult>"
    with pytest.raises(FeedFormatError, match=r"carry only ids \(2 here\).*id=1,2$"):
        pubmed.parse(data)


def test_efetch_error_is_reported() -> None:
    data = b"<eFetchResult><ERROR>Empty id list - nothing todo</ERROR></eFetchResult>"
    assert detect(data) == "pubmed"
    with pytest.raises(FeedFormatError, match="efetch reported an error: Empty id list"):
        pubmed.parse(data)


def test_empty_article_set() -> None:
    assert pubmed.parse(b'<?xml version="1.0" ?><PubmedArticleSet></PubmedArticleSet>') == []

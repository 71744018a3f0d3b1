"""bot.ingest.sources._common: the invariants every Listing gets, de-duplication and field parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.ingest.sources._common import (
    decode_text,
    dedupe,
    http_url,
    make_listing,
    parse_datetime,
    split_names,
)
from bot.ingest.sources.listing import Listing


def test_make_listing_applies_every_invariant() -> None:
    listing = make_listing(
        source="rss",
        title="  A <i>clean</i>\n title ",
        abstract="<p>Some &amp; more</p>",
        authors=["  Ada  Lovelace ", "", "Ada Lovelace"],
        arxiv_id="https://arxiv.org/abs/2404.12345v3",
        doi="https://doi.org/10.1000/ABC",
        abs_url="javascript:alert(1)",
        pdf_url="https://arxiv.org/pdf/2404.12345v3",
        published=datetime(2024, 1, 2, 3, 4),
        updated=datetime(2024, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=-4))),
    )
    assert listing == Listing(
        title="A clean title",
        abstract="Some & more",
        authors=("Ada Lovelace",),
        arxiv_id="2404.12345",
        version=3,
        doi="10.1000/abc",
        abs_url=None,
        pdf_url="https://arxiv.org/pdf/2404.12345v3",
        published=datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
        updated=datetime(2024, 1, 2, 7, 4, tzinfo=UTC),
        source="rss",
    )


def test_make_listing_without_title_gives_none() -> None:
    assert make_listing(source="rss", title=" <b></b> ", abstract="orphan abstract") is None
    assert make_listing(source="rss", title=None) is None


def test_an_arxiv_doi_yields_the_arxiv_id() -> None:
    listing = make_listing(source="s2", title="T", doi="10.48550/arXiv.2404.12345")
    assert listing is not None and listing.arxiv_id == "2404.12345"
    assert listing.doi == "10.48550/arxiv.2404.12345"


def test_dedupe_keeps_the_richer_record_in_first_seen_order() -> None:
    poor = make_listing(source="rss", title="Paper", arxiv_id="2404.12345v1")
    other = make_listing(source="rss", title="Other", doi="10.1000/x")
    rich = make_listing(source="rss", title="Paper", arxiv_id="2404.12345v2", abstract="Has an abstract")
    assert dedupe([poor, other, None, rich]) == [rich, other]


def test_dedupe_collapses_repeated_title_only_records() -> None:
    first = make_listing(source="rss", title="No ids at all")
    again = make_listing(source="rss", title="no IDS at all.", abstract="longer")
    assert dedupe([first, again]) == [again]


def test_dedupe_keeps_same_titled_records_the_source_says_are_different() -> None:
    one = make_listing(source="s2", title="News & Resources", source_id="a")
    two = make_listing(source="s2", title="News & Resources", source_id="b")
    assert dedupe([one, two]) == [one, two]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://arxiv.org/abs/1", "https://arxiv.org/abs/1"),
        ("  http://x.org/a?b=1  ", "http://x.org/a?b=1"),
        ("javascript:alert(1)", None),
        ("JAVASCRIPT:alert(1)", None),
        ("data:text/html,hi", None),
        ("ftp://x.org/file", None),
        ("/relative/path", None),
        ("https://", None),
        ("http://csuligroup.com : 8000/RNALoc-LM", None),
        (None, None),
        ("", None),
    ],
)
def test_http_url_keeps_only_absolute_http_links(value: str | None, expected: str | None) -> None:
    assert http_url(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-30T00:00:00.000Z", datetime(2026, 5, 30, tzinfo=UTC)),
        ("2018-05-23T20:30:00-05:00", datetime(2018, 5, 24, 1, 30, tzinfo=UTC)),
        ("Thu, 24 Sep 2026 00:00:00 -0400", datetime(2026, 9, 24, 4, tzinfo=UTC)),
        ("Sat, 22 Mar 2025 00:00:00 GMT", datetime(2025, 3, 22, tzinfo=UTC)),
        ("2025-04-12", datetime(2025, 4, 12, tzinfo=UTC)),
        ("2012-01-23T21:15:02", datetime(2012, 1, 23, 21, 15, 2, tzinfo=UTC)),
        ("NA", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_datetime_gives_aware_utc(value: str | None, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Naser Mansour, Sidahmed Benabderrahmane, Ameer Rahwan",
            ["Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan"],
        ),
        ("A One, B Two and C Three", ["A One", "B Two", "C Three"]),
        ("A One, B Two, and C Three", ["A One", "B Two", "C Three"]),
        ("Rand Paul and Andrea Anders", ["Rand Paul", "Andrea Anders"]),
        ("X Y (Univ. A, Country), Z W", ["X Y (Univ. A, Country)", "Z W"]),
        ("", []),
    ],
)
def test_split_names(text: str, expected: list[str]) -> None:
    assert split_names(text) == expected


def test_decode_text_falls_back_to_windows_1252() -> None:
    assert decode_text("Café – naïve".encode("cp1252")) == "Café – naïve"
    assert decode_text("\ufeffCafé".encode()) == "Café"

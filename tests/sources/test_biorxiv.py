"""bot.ingest.sources.biorxiv: bioRxiv/medRxiv subject RSS and the api.biorxiv.org details JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.errors import FeedFormatError
from bot.ingest.sources import biorxiv

RSS = "biorxiv_rss1.0_bioinformatics_2025-04-13.xml"
MEDRXIV = "medrxiv_api_details_2026-09-15_3records.json"
JATS_JUNK = re.compile(r"[OC]_(?:ST_ABS|LI|SCPLOW|SCPCAP)|\{[a-z ]+\}")


def test_rss_fields(feed: Callable[[str], bytes]) -> None:
    listings = biorxiv.parse(feed(RSS))
    first = listings[0]
    assert first.title.startswith("SpatioCell: A Deep Learning Algorithm for High-resolution Single-cell")
    assert first.doi == "10.1101/2025.04.07.647590"
    assert first.source_id == "10.1101/2025.04.07.647590v1"
    assert first.authors[:3] == ("Hou, N.", "Wu, Z.", "Yu, Y.") and len(first.authors) == 11
    assert first.categories == ("Bioinformatics",)
    assert first.abs_url == "https://www.biorxiv.org/content/10.1101/2025.04.07.647590v1"
    assert first.pdf_url == "https://www.biorxiv.org/content/10.1101/2025.04.07.647590v1.full.pdf"
    assert first.published == datetime(2025, 4, 12, tzinfo=UTC)
    assert all(listing.doi and listing.doi.startswith("10.1101/") for listing in listings)


def test_jats_markers_are_cleaned(feed: Callable[[str], bytes]) -> None:
    abstracts = [listing.abstract for name in (RSS, MEDRXIV) for listing in biorxiv.parse(feed(name))]
    assert not [text for text in abstracts if JATS_JUNK.search(text)]
    joined = " ".join(abstracts)
    assert "βIII-tubulin" in joined and "(ρ = 0.94, p < 0.001; ρ = 0.88" in joined
    assert "SO_SCPLOW" not in joined and "STEAMBOAT" in joined
    assert "Results: The initial space of 5,832 possible ABR configurations" in joined  # was "ResultsThe"


def test_old_style_rss_item(feed: Callable[[str], bytes]) -> None:
    [listing] = biorxiv.parse(feed("biorxiv_rss1.0_genomics_2023-12-16_1item.xml"))
    assert listing.authors[-1] == "O'Connell, R. J." and len(listing.authors) == 10
    assert listing.doi == "10.1101/2023.12.16.571984"
    assert listing.pdf_url is None  # "cgi/content/short" pages have no .full.pdf beside them


def test_details_json(feed: Callable[[str], bytes]) -> None:
    listings = biorxiv.parse(feed(MEDRXIV))
    assert [listing.doi for listing in listings] == [
        "10.64898/2026.09.13.26362948",
        "10.64898/2026.09.11.26362753",
        "10.64898/2026.09.14.26363001",
    ]
    second = listings[1]
    assert second.abs_url == "https://www.medrxiv.org/content/10.64898/2026.09.11.26362753v1"
    assert second.categories == ("cardiovascular medicine",)
    assert second.authors[0] == "Qiao, Y." and second.published == datetime(2026, 9, 15, tzinfo=UTC)
    [record] = biorxiv.parse(feed("biorxiv_api_details_record_10.1101-456574.json"))
    assert record.title == "Complementary subnetworks of cortical somatostatin interneurons"
    assert record.authors[-1] == "Adesnik, H."


def test_details_without_posts_is_empty() -> None:
    data = json.dumps({"messages": [{"status": "no posts found"}], "collection": []}).encode()
    assert biorxiv.parse(data) == []


def test_details_without_collection_is_an_error() -> None:
    with pytest.raises(FeedFormatError, match="no `collection`.*invalid interval"):
        biorxiv.parse(json.dumps({"messages": [{"status": "invalid interval"}]}).encode())


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("{alpha}-helix and {Delta}G", "α-helix and ΔG"),
        ("NH{square}{square} uptake", "NH uptake"),
        ("HighlightsO_LIFirst.\nC_LIO_LISecond.\nC_LI", "Highlights:  First.\n  Second.\n "),
    ],
)
def test_clean_jats(raw: str, clean: str) -> None:
    assert biorxiv.clean_jats(raw) == clean

"""bot.ingest.sources.arxiv_api: Atom responses of export.arxiv.org/api/query, old and new."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.errors import FeedFormatError
from bot.ingest.sources import arxiv_api, parse

QUERY = "arxiv_api_query_all-testing_m100_2026-04-12.atom.xml"
OLD = "arxiv_api_query_au-del_maestro_2016-10-09_oldformat.atom.xml"


def test_entry_fields(feed: Callable[[str], bytes]) -> None:
    listings = arxiv_api.parse(feed(QUERY))
    first = listings[0]
    assert (first.arxiv_id, first.version) == ("2202.12139", 1)
    assert first.title == (
        "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    )
    assert first.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")
    assert first.categories == ("cs.SE", "cs.LG")  # primary category first
    assert first.doi == "10.1109/icstw55395.2022.00035"
    assert first.abs_url == "https://arxiv.org/abs/2202.12139v1"
    assert first.pdf_url == "https://arxiv.org/pdf/2202.12139v1"
    assert first.published == datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)
    assert first.abstract.startswith("Deep Learning (DL) has revolutionized")
    assert sum(1 for listing in listings if listing.doi) == 32  # README: 32 entries carry a DOI


def test_old_2016_format(feed: Callable[[str], bytes]) -> None:
    listings = arxiv_api.parse(feed(OLD))
    first = listings[0]
    assert (first.arxiv_id, first.version) == ("1201.4869", 1)
    assert first.doi == "10.1142/s021797921244002x"
    assert first.categories == ("cond-mat.mes-hall", "cond-mat.other")
    assert "\n" not in first.abstract and first.abstract.startswith("As helium-4 is cooled below 2.17 K")
    assert all(listing.authors for listing in listings)


def test_error_entry_raises_with_arxivs_text(feed: Callable[[str], bytes]) -> None:
    with pytest.raises(FeedFormatError, match="arXiv API reported an error: incorrect id format for abc"):
        arxiv_api.parse(feed("arxiv_api_error_incorrect_id_http400_2026-04-12.atom.xml"))


def test_empty_result(feed: Callable[[str], bytes]) -> None:
    assert arxiv_api.parse(feed("arxiv_api_empty_result_2026-04-12.atom.xml")) == []


def test_id_list_with_one_valid_id(feed: Callable[[str], bytes]) -> None:
    [listing] = arxiv_api.parse(feed("arxiv_api_id_list_2ids_2026-04.atom.xml"))
    assert (listing.arxiv_id, listing.version) == ("1707.08567", 1)


@pytest.mark.slow  # a timing check over 10,000 entries
def test_ten_thousand_entries_parse_quickly(feed: Callable[[str], bytes]) -> None:
    text = feed(QUERY).decode()
    start, end = text.index("<entry>"), text.index("</entry>") + len("</entry>")
    entries = "".join(text[start:end].replace("2202.12139", f"2202.{n:05d}") for n in range(10_000))
    # CPU time of this process: the parse's own cost, whatever else the machine is running
    started = time.process_time()
    listings = parse((text[:start] + entries + "</feed>").encode())
    assert len(listings) == 10_000
    assert time.process_time() - started < 5

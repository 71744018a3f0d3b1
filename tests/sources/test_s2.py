"""bot.ingest.sources.s2: Semantic Scholar Graph and Recommendations API responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from bot.ingest.sources import s2
from bot.ingest.sources.ids import canonical_id


def test_batch_skips_null_for_unknown_ids(feed: Callable[[str], bytes]) -> None:
    listings = s2.parse(feed("s2_graph_paper_batch_full_fields_with_notfound.json"))
    dois = ["10.2139/ssrn.288970", "10.2139/ssrn.2250500", "10.1257/rct.1355"]
    assert [listing.doi for listing in listings] == dois
    first = listings[0]
    assert first.title == "How Much Should We Trust Differences-in-Differences Estimates?"
    assert first.authors[:2] == ("Marianne Bertrand", "E. Duflo")
    assert first.pdf_url == "http://papers.nber.org/papers/w8841.pdf"
    assert first.source_id == "c31c87c591a25c64fbaa82e8ac6a81831b6ac7ce"
    assert first.published == datetime(2001, 10, 1, tzinfo=UTC)
    assert listings[2].published is None


def test_search_results_carry_arxiv_ids(feed: Callable[[str], bytes]) -> None:
    listings = s2.parse(feed("s2_graph_paper_search_transformer_2026-06.json"))
    assert [listing.arxiv_id for listing in listings] == [
        "2103.14030",
        "2012.07436",
        "2004.05150",
        "2111.09881",
        "2108.10257",
    ]
    assert listings[0].doi == "10.1109/iccv48922.2021.00986"
    assert listings[2].pdf_url is None  # openAccessPdf.url is "" there


def test_single_paper(feed: Callable[[str], bytes]) -> None:
    [paper] = s2.parse(feed("s2_graph_paper_single_full_fields.json"))
    assert paper.title == "Computing Machinery and Intelligence"
    assert paper.doi == "10.1093/mind/lix.236.433" and paper.authors == ("A. Turing",)
    assert paper.abstract.startswith("I propose to consider the question")


def test_recommendations_keep_distinct_papers_with_the_same_title(feed: Callable[[str], bytes]) -> None:
    data = feed("s2_recommendations_forpaper_fields-title.json")
    listings = s2.parse(data)
    raw = json.loads(data)["recommendedPapers"]
    assert [listing.source_id for listing in listings] == [paper["paperId"] for paper in raw]
    assert sum(1 for listing in listings if listing.title.casefold() == "news & resources") == 2


ARXIV_DOI = "10.48550/arXiv.2103.14030"


def test_citation_wrappers_and_arxiv_doi() -> None:
    data = json.dumps(
        {
            "data": [
                {"citingPaper": {"paperId": "p1", "title": "Cites", "externalIds": {"DOI": ARXIV_DOI}}},
                {"citingPaper": {"paperId": "p2", "title": None}},
            ]
        }
    ).encode()
    [listing] = s2.parse(data)
    assert canonical_id(arxiv_id=listing.arxiv_id, doi=listing.doi, title=listing.title) == "arxiv:2103.14030"

"""The same paper reaching paperbot through different families gets the same canonical id.

The recorded feeds share no paper (checked: no arXiv id, DOI or normalised title appears in two
files), so the overlap is built here from one real record, arXiv 2606.13677v1 in the arXiv API
sample, re-expressed in the shape of each other source.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from xml.sax.saxutils import escape

import pytest

from bot.ingest.sources import detect, parse
from bot.ingest.sources.ids import canonical_id
from bot.ingest.sources.listing import Listing

API_FILE = "arxiv_api_query_transformer_cs.LG_m5_2026-06-14.atom.xml"
RSS_HEAD = '<rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom"><channel><title>cs.RO</title>'


@pytest.fixture
def original(feed: Callable[[str], bytes]) -> Listing:
    listing = parse(feed(API_FILE))[0]
    assert (listing.arxiv_id, listing.version) == ("2606.13677", 1)
    return listing


def as_arxiv_rss(paper: Listing) -> bytes:
    item = (
        f"<item><title>{escape(paper.title)}</title><link>https://arxiv.org/abs/2606.13677</link>"
        "<description>arXiv:2606.13677v1 Announce Type: new \n"
        f"Abstract: {escape(paper.abstract)}</description>"
        '<guid isPermaLink="false">oai:arXiv.org:2606.13677v1</guid>'
        "<arxiv:announce_type>new</arxiv:announce_type></item>"
    )
    return (RSS_HEAD + item + "</channel></rss>").encode()


def as_hf_daily(paper: Listing) -> bytes:
    record = {
        "paper": {
            "id": "2606.13677",
            "title": paper.title,
            "upvotes": 7,
            "authors": [{"name": name} for name in paper.authors],
        },
        "title": paper.title,
        "summary": paper.abstract,
    }
    return json.dumps([record]).encode()


def as_s2(paper: Listing) -> bytes:
    return json.dumps(
        {"data": [{"paperId": "abc", "title": paper.title.upper(), "externalIds": {"ArXiv": "2606.13677"}}]}
    ).encode()


def as_journal_rss(paper: Listing) -> bytes:
    return (
        '<rss version="2.0"><channel><title>Some journal</title><item>'
        f"<title>{escape(paper.title)}</title><link>https://doi.org/10.48550/arXiv.2606.13677</link>"
        "</item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("build", "family"),
    [(as_arxiv_rss, "arxiv_rss"), (as_hf_daily, "hf_daily"), (as_s2, "s2"), (as_journal_rss, "rss")],
)
def test_one_paper_one_canonical_id(
    original: Listing, build: Callable[[Listing], bytes], family: str
) -> None:
    data = build(original)
    assert detect(data) == family
    [copy] = parse(data)
    key = canonical_id(arxiv_id=copy.arxiv_id, doi=copy.doi, title=copy.title)
    assert key == canonical_id(arxiv_id=original.arxiv_id, doi=original.doi, title=original.title)
    assert key == "arxiv:2606.13677"

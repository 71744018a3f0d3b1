"""bot.ingest.sources.arxiv_rss: arXiv's listing RSS, new (2024+) and old (RDF) formats."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.ingest.sources import arxiv_rss, detect, parse

MULTICAT = "arxiv_rss_new_multicat_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml"
CS_AI = "arxiv_rss_new_cs.AI_2026-04-27_trimmed.xml"
OLD = "arxiv_rss_old_rdf_hep-ex_2018-05-23_abridged.xml"


def split_feed(data: bytes) -> tuple[str, str, str]:
    """(channel header, first item, closing tags) of a real RSS 2.0 file, for building variants."""
    text = data.decode()
    start, end = text.index("<item>"), text.index("</item>") + len("</item>")
    return text[:start], text[start:end], "</channel></rss>"


def test_new_format_fields(feed: Callable[[str], bytes]) -> None:
    listings = arxiv_rss.parse(feed(MULTICAT))
    assert [(x.arxiv_id, x.version, x.announce_type) for x in listings] == [
        ("2609.26811", 1, "new"),
        ("2609.26820", 1, "new"),
        ("2205.06398", 2, "cross"),
        ("2009.13987", 3, "replace"),
    ]
    cross = listings[2]
    assert cross.title == "Outlier Detection for Multi-Network Data"
    assert cross.authors == ("Pritam Dey", "Zhengwu Zhang", "David B. Dunson")
    assert cross.categories == ("stat.ME", "stat.AP", "stat.ML")
    assert cross.doi == "10.1093/bioinformatics/btac431"
    assert cross.abs_url == "https://arxiv.org/abs/2205.06398"
    assert cross.pdf_url == "https://arxiv.org/pdf/2205.06398v2"
    assert cross.source_id == "oai:arXiv.org:2205.06398v2"
    assert cross.published == datetime(2026, 9, 24, 4, tzinfo=UTC)
    assert cross.abstract.startswith("It has become routine in neuroscience studies")
    assert "Announce Type" not in cross.abstract and not cross.abstract.startswith("Abstract")


def test_announce_type_falls_back_to_the_description(feed: Callable[[str], bytes]) -> None:
    head, item, tail = split_feed(feed(CS_AI))
    item = item.replace("<arxiv:announce_type>new</arxiv:announce_type>", "")
    item = item.replace("Announce Type: new", "Announce Type: replace-cross")
    [listing] = arxiv_rss.parse((head + item + tail).encode())
    assert listing.announce_type == "replace-cross"
    assert (listing.arxiv_id, listing.version) == ("2604.21935", 1)


def test_old_rdf_format(feed: Callable[[str], bytes]) -> None:
    listings = arxiv_rss.parse(feed(OLD))
    assert [(x.arxiv_id, x.version, x.announce_type, x.categories) for x in listings] == [
        ("1805.08875", 1, "new", ("hep-ex",)),
        ("1805.09166", 1, "cross", ("hep-ex",)),
        ("1805.06430", 2, "replace", ("nucl-th",)),
    ]
    first = listings[0]
    assert first.title == "Measurement of Transverse Single Spin Asymmetries"
    assert first.authors == ("Christopher Dilks (STAR Collaboration)",)
    assert "$2.6<\\eta<4$" in first.abstract  # double-escaped in the feed, LaTeX kept
    assert "<p>" not in first.abstract and first.abstract.endswith("to those in $p+A$ production.")
    assert first.published == datetime(2018, 5, 24, 1, 30, tzinfo=UTC)  # the channel's dc:date
    assert listings[2].authors[:2] == ("Shu-Sheng Xu", "Zhu-Fang Cui") and len(listings[2].authors) == 6


def test_items_without_title_are_skipped_and_without_id_kept(feed: Callable[[str], bytes]) -> None:
    head, item, tail = split_feed(feed(CS_AI))
    no_title = item.replace("<title>Math Takes Two", "<title>").replace(
        ": A test for emergent mathematical reasoning in communication</title>", "</title>"
    )
    no_ids = (
        item.replace("2604.21935", "x")
        .replace("<title>Math", "<title>Other math")
        .replace("https://arxiv.org/abs/x", "javascript:alert(1)")
    )
    listings = arxiv_rss.parse((head + no_title + no_ids + tail).encode())
    [listing] = listings
    assert listing.title.startswith("Other math") and listing.arxiv_id is None
    assert listing.abs_url is None and listing.pdf_url is None
    assert listing.abstract.startswith("Although language models")


def test_duplicate_items_collapse_to_the_richer(feed: Callable[[str], bytes]) -> None:
    head, item, tail = split_feed(feed(CS_AI))
    bare = re.sub(r"Abstract:.*?</description>", "</description>", item, flags=re.DOTALL)
    assert arxiv_rss.parse((head + bare + tail).encode())[0].abstract == ""
    listings = arxiv_rss.parse((head + bare + item + item + tail).encode())
    assert len(listings) == 1 and listings[0].abstract.startswith("Although language models")


def test_latin1_bytes_without_declaration_do_not_crash(feed: Callable[[str], bytes]) -> None:
    head, item, tail = split_feed(feed(CS_AI))
    item = item.replace("Math Takes Two", "Math Takes Two, café")
    data = (head + item + tail).encode("latin-1")
    assert detect(data) == "arxiv_rss"
    [listing] = parse(data)
    assert listing.title.startswith("Math Takes Two, café")


def test_latin1_declared_is_decoded(feed: Callable[[str], bytes]) -> None:
    head, item, tail = split_feed(feed(CS_AI))
    text = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + head + item.replace("Two", "Två") + tail
    [listing] = parse(text.encode("latin-1"))
    assert "Två" in listing.title


def test_an_empty_channel_gives_no_listings(feed: Callable[[str], bytes]) -> None:
    head, _, tail = split_feed(feed(CS_AI))
    assert parse((head + tail).encode()) == []


@pytest.mark.slow  # a timing check over 10,000 items
def test_ten_thousand_items_parse_quickly(feed: Callable[[str], bytes]) -> None:
    head, item, tail = split_feed(feed(CS_AI))
    items = "".join(item.replace("2604.21935", f"2604.{n:05d}") for n in range(10_000))
    data = (head + items + tail).encode()
    # CPU time of this process: the parse's own cost, whatever else the machine is running
    started = time.process_time()
    listings = parse(data)
    elapsed = time.process_time() - started
    assert len(listings) == 10_000 and listings[-1].arxiv_id == "2604.09999"
    assert elapsed < 5, f"10,000 items took {elapsed:.1f} s"


@pytest.mark.parametrize("name", [MULTICAT, CS_AI, OLD])
def test_detected_from_content_alone(name: str, feed: Callable[[str], bytes]) -> None:
    assert detect(feed(name)) == "arxiv_rss"

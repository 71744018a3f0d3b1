"""bot.ingest.sources.rss: generic RSS 1.0 / RSS 2.0 / Atom journal feeds, read with feedparser."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.errors import FeedFormatError
from bot.ingest.sources import detect, parse, rss

NATURE_RSS = "nature_rss1.0_current_2024-08-20.rss.xml"
NATURE_ATOM = "nature_subject_bioinformatics_atom_2025-03-19.xml"
PLOS = "plos_compbiol_atom_2025-04-13.xml"
OUP = "oup_bioinformatics_openaccess_rss2_2025-03-22.xml"
BMC = "bmc_bioinformatics_rss2_2025-04-13.xml"


def test_nature_rss1_with_prism(feed: Callable[[str], bytes]) -> None:
    listings = rss.parse(feed(NATURE_RSS))
    first = listings[0]
    assert first.title == (
        "Author Correction: Anti-TIGIT antibody improves PD-L1 blockade through myeloid and Treg cells"
    )
    assert first.doi == "10.1038/s41586-024-07956-2"
    assert first.authors[:2] == ("Xiangnan Guan", "Ruozhen Hu") and len(first.authors) == 31
    assert first.published == datetime(2024, 8, 20, tzinfo=UTC)
    # The description is "<p>Nature, Published online: ...</p>" + the title again: no abstract.
    assert first.abstract == ""
    standfirsts = {listing.title: listing.abstract for listing in listings if listing.abstract}
    assert standfirsts["Gut microbes’ genomes are a trove of potential antibiotics"].startswith(
        "Newfound compound is as effective at treating infected skin wounds"
    )
    assert not [text for text in standfirsts.values() if "Published online" in text]
    assert all(listing.doi and listing.doi.startswith("10.1038/") for listing in listings)


def test_nature_atom_doi_from_article_url(feed: Callable[[str], bytes]) -> None:
    first = rss.parse(feed(NATURE_ATOM))[0]
    assert first.doi == "10.1038/s41598-025-86513-x"
    assert first.authors == ("Basanta Kumar Das et al.",)
    assert first.abstract == ""


def test_plos_atom(feed: Callable[[str], bytes]) -> None:
    first = rss.parse(feed(PLOS))[0]
    assert first.doi == "10.1371/journal.pcbi.1012994"
    assert first.authors == ("Jin Ke", "Hayoung Song", "Zihan Bai", "Monica D. Rosenberg", "Yuan Chang Leong")
    assert first.abstract.startswith("Human affective experience varies")  # "by <authors>" line removed
    assert (
        first.pdf_url
        == "https://journals.plos.org/ploscompbiol/article/asset?id=10.1371/journal.pcbi.1012994.PDF"
    )
    assert first.published == datetime(2025, 4, 11, 14, tzinfo=UTC)


def test_oup_html_abstract(feed: Callable[[str], bytes]) -> None:
    first = rss.parse(feed(OUP))[0]
    assert first.doi == "10.1093/bioinformatics/btaf119"
    assert first.abstract.startswith("Summary: Cells differentiate to their final fates")
    assert "Availability and Implementation: The R version of CytoSimplex" in first.abstract
    assert "<" not in first.abstract and "boxTitle" not in first.abstract


def test_bmc_authors_and_truncated_teaser(feed: Callable[[str], bytes]) -> None:
    first = rss.parse(feed(BMC))[0]
    assert first.doi == "10.1186/s12859-025-06113-4"
    assert first.authors == (
        "Daniel Henrique Ferreira Gomes",
        "Inácio Gomes Medeiros",
        "Tirzah Braz Petta",
        "Beatriz Stransky",
        "Jorge Estefano Santana de Souza",
    )
    assert first.categories == ("Software",)
    assert first.abstract.endswith("the lack of representativenes...")


RSS2 = """<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0"><channel><title>Journal</title>{items}</channel></rss>"""
ITEM = (
    "<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>"
    "<description>{text}</description></item>"
)


def rss2(*items: dict[str, str], encoding: str = "utf-8") -> str:
    return RSS2.format(encoding=encoding, items="".join(ITEM.format(**item) for item in items))


def test_robust_to_missing_and_repeated_entries() -> None:
    text = rss2(
        {"title": "", "link": "https://j.org/1", "guid": "1", "text": "no title: skipped"},
        {"title": "Kept without ids", "link": "javascript:alert(1)", "guid": "", "text": ""},
        {"title": "Twice", "link": "https://doi.org/10.1000/TWICE", "guid": "a", "text": "short"},
        {"title": "Twice", "link": "https://doi.org/10.1000/twice", "guid": "b", "text": "the longer one"},
    )
    listings = parse(text.encode())
    assert [(x.title, x.doi, x.abs_url, x.abstract) for x in listings] == [
        ("Kept without ids", None, None, ""),
        ("Twice", "10.1000/twice", "https://doi.org/10.1000/twice", "the longer one"),
    ]


def test_latin1_declared_and_undeclared() -> None:
    item = {"title": "Étude naïve", "link": "https://j.org/1", "guid": "1", "text": "Résumé"}
    declared = rss2(item, encoding="ISO-8859-1").encode("latin-1")
    undeclared = rss2(item).encode("latin-1")  # claims UTF-8, is not
    for data in (declared, undeclared):
        [listing] = parse(data)
        assert (listing.title, listing.abstract) == ("Étude naïve", "Résumé")


def test_html_entities_in_xml_are_tolerated() -> None:
    text = rss2({"title": "A&nbsp;B", "link": "https://j.org/1", "guid": "1", "text": "x&eacute;y"})
    [listing] = parse(text.encode())
    assert (listing.title, listing.abstract) == ("A B", "xéy")


def test_truncated_feed_is_an_error(feed: Callable[[str], bytes]) -> None:
    data = feed(PLOS)
    with pytest.raises(FeedFormatError, match="malformed at line .*truncated"):
        rss.parse(data[: len(data) // 2])


def test_empty_feed() -> None:
    assert parse(rss2().encode()) == []
    assert parse(b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>') == []


@pytest.mark.slow  # a timing check over 10,000 entries
def test_ten_thousand_atom_entries_parse_in_time() -> None:
    entry = (
        "<entry><id>tag:j.org,2025:{n}</id><title>Paper {n}</title><updated>2025-01-01T00:00:00Z</updated>"
        '<summary>Abstract {n} with a few words.</summary><link href="https://j.org/{n}"/></entry>'
    )
    data = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        + "".join(entry.format(n=n) for n in range(10_000))
        + "</feed>"
    ).encode()
    assert detect(data) == "rss"
    # CPU time of this process: the parse's own cost, whatever else the machine is running
    started = time.process_time()
    listings = parse(data)
    assert len(listings) == 10_000 and listings[9_999].title == "Paper 9999"
    assert time.process_time() - started < 8

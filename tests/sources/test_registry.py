"""bot.ingest.sources: every recorded feed through auto-detection, with the per-file counts of
../shared/data/feeds/README.md, plus detection of content that is no feed at all."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

import bot.ingest.sources as sources
from bot.errors import FeedFormatError
from bot.ingest.sources import FAMILIES, Listing, detect, parse

HTML_TAG = re.compile(r"</?(?:p|div|span|a|sub|sup|i|b|em|strong|br)\b[^>]*>")

# file -> (family, paper count) or (family, FeedFormatError, text the message must contain).
EXPECTED: dict[str, tuple[str, int] | tuple[str, type[FeedFormatError], str]] = {
    "arxiv_rss_new_cs.AI_2026-04-27_trimmed.xml": ("arxiv_rss", 3),
    "arxiv_rss_new_cs.CL_2026-04-27_trimmed.xml": ("arxiv_rss", 3),
    "arxiv_rss_new_cs.LG_2026-04-27_trimmed.xml": ("arxiv_rss", 3),
    "arxiv_rss_new_multicat_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml": ("arxiv_rss", 4),
    "arxiv_rss_old_rdf_hep-ex_2018-05-23_abridged.xml": ("arxiv_rss", 3),
    "arxiv_api_query_all-testing_m100_2026-04-12.atom.xml": ("arxiv_api", 100),
    "arxiv_api_id_list_2ids_2026-04.atom.xml": ("arxiv_api", 1),
    "arxiv_api_empty_result_2026-04-12.atom.xml": ("arxiv_api", 0),
    "arxiv_api_error_incorrect_id_http400_2026-04-12.atom.xml": (
        "arxiv_api",
        FeedFormatError,
        "arXiv API reported an error: incorrect id format for abc",
    ),
    "arxiv_api_query_au-del_maestro_2016-10-09_oldformat.atom.xml": ("arxiv_api", 10),
    "arxiv_api_query_transformer_cs.LG_m5_2026-06-14.atom.xml": ("arxiv_api", 5),
    "hf_daily_papers_api_2026-06.json": ("hf_daily", 30),
    "biorxiv_rss1.0_bioinformatics_2025-04-13.xml": ("biorxiv", 30),
    "biorxiv_rss1.0_genomics_2023-12-16_1item.xml": ("biorxiv", 1),
    "medrxiv_api_details_2026-09-15_3records.json": ("biorxiv", 3),
    "biorxiv_api_details_record_10.1101-456574.json": ("biorxiv", 1),
    "nature_rss1.0_current_2024-08-20.rss.xml": ("rss", 75),
    "nature_subject_bioinformatics_atom_2025-03-19.xml": ("rss", 30),
    "plos_compbiol_atom_2025-04-13.xml": ("rss", 4),
    "oup_bioinformatics_openaccess_rss2_2025-03-22.xml": ("rss", 4),
    "bmc_bioinformatics_rss2_2025-04-13.xml": ("rss", 5),
    "s2_graph_paper_single_full_fields.json": ("s2", 1),
    "s2_graph_paper_batch_full_fields_with_notfound.json": ("s2", 3),
    "s2_recommendations_forpaper_fields-title.json": ("s2", 100),
    "s2_recommendations_from_lists_POST_fields-title.json": ("s2", 100),
    "s2_graph_paper_search_transformer_2026-06.json": ("s2", 5),
    "pubmed_efetch_2026-06.xml": ("pubmed", 5),
    "pubmed_esearch_2026-06.json": ("pubmed", FeedFormatError, "fetch the papers with efetch: https://"),
}


def test_the_table_covers_every_recorded_feed(feeds_dir: Path) -> None:
    recorded = {path.name for path in feeds_dir.iterdir() if path.name != "README.md"}
    assert recorded == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_feed_is_detected_and_parsed(name: str, feed: Callable[[str], bytes]) -> None:
    family, *outcome = EXPECTED[name]
    data = feed(name)
    assert detect(data) == family
    if outcome[0] is FeedFormatError:
        with pytest.raises(FeedFormatError, match=str(outcome[1])) as raised:
            parse(data, url=f"https://example.org/{name}")
        assert raised.value.message.startswith(f"https://example.org/{name}: ")
        return
    listings = parse(data)
    assert len(listings) == outcome[0]
    assert all(isinstance(listing, Listing) and listing.source == family for listing in listings)
    _assert_clean(listings)


def _assert_clean(listings: list[Listing]) -> None:
    for listing in listings:
        assert listing.title and listing.title == " ".join(listing.title.split())
        for text in (listing.title, listing.abstract):
            assert not HTML_TAG.search(text) and "&amp;" not in text and "&lt;" not in text
            assert "O_LI" not in text and "C_ST_ABS" not in text
        for moment in (listing.published, listing.updated):
            assert moment is None or moment.utcoffset() is not None
        if listing.arxiv_id:
            assert "v" not in listing.arxiv_id.split(".")[-1]


@pytest.mark.parametrize("path", sorted((Path(__file__).parent / "data").glob("crossref_work_*.json")))
def test_recorded_crossref_work_is_detected_and_parsed(path: Path) -> None:
    data = path.read_bytes()
    assert detect(data) == "crossref"
    listings = parse(data)
    assert len(listings) == 1 and listings[0].source == "crossref"
    _assert_clean(listings)


def test_every_built_in_family_is_registered() -> None:
    assert list(FAMILIES) == [
        "arxiv_rss",
        "arxiv_api",
        "biorxiv",
        "pubmed",
        "hf_daily",
        "s2",
        "crossref",
        "rss",
    ]
    assert list(FAMILIES)[-1] == "rss", "the catch-all family must be asked last"


def test_parse_goes_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    class Everything:
        @staticmethod
        def claims(sample: object) -> bool:
            return True

        @staticmethod
        def parse(data: bytes) -> list[Listing]:
            return [Listing(title=data.decode())]

    monkeypatch.setattr(sources, "FAMILIES", {"everything": Everything, **FAMILIES})
    assert detect(b"<anything/>") == "everything"
    assert parse(b"<anything/>") == [Listing(title="<anything/>")]


def test_empty_json_array_follows_the_url_hint() -> None:
    assert detect(b"[]", url="https://huggingface.co/api/daily_papers") == "hf_daily"
    assert detect(b"[]") == "s2"
    assert parse(b"[]") == []


def test_s2_batch_of_only_unknown_ids_is_empty() -> None:
    assert detect(b"[null, null]") == "s2"
    assert parse(b"[null, null]") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty (0 bytes), not a feed"),
        (b"  \n\t ", "is empty (5 bytes), not a feed"),
        (
            b"<!DOCTYPE html>\n<html><head><title>Page not found</title></head><body>oops</body></html>",
            "returned an HTML page, not a feed (title: \"Page not found\", first line: '<!DOCTYPE html>')",
        ),
        (
            b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
            "returned an HTML page, not a feed",
        ),
        (b"<HTML><BODY>Moved</BODY></HTML>", "returned an HTML page, not a feed (first line: '<HTML>"),
        (b"Too many requests\nslow down", "neither XML nor JSON (first line: 'Too many requests')"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "XML with root element <svg>"),
        (b'{"error": "Paper not found"}', "returned an error instead of papers: Paper not found"),
        (b'{"hello": 1, "world": 2}', "JSON paperbot does not recognise (top-level keys: hello, world)"),
        (b'"just a string"', "neither XML nor JSON"),
        (b'[{"paperId": "a", "title": "T"', "JSON is malformed at line 1"),
    ],
)
def test_content_that_is_no_feed_is_explained(data: bytes, message: str) -> None:
    with pytest.raises(FeedFormatError) as raised:
        parse(data, url="https://example.org/feed")
    assert message in raised.value.message
    assert raised.value.message.startswith("https://example.org/feed")


@pytest.mark.parametrize(
    "name",
    [
        "arxiv_api_query_all-testing_m100_2026-04-12.atom.xml",
        "arxiv_rss_new_cs.AI_2026-04-27_trimmed.xml",
        "biorxiv_rss1.0_bioinformatics_2025-04-13.xml",
        "nature_rss1.0_current_2024-08-20.rss.xml",
        "pubmed_efetch_2026-06.xml",
        "hf_daily_papers_api_2026-06.json",
    ],
)
def test_a_file_cut_in_half_is_reported_as_truncated(name: str, feed: Callable[[str], bytes]) -> None:
    data = feed(name)
    with pytest.raises(FeedFormatError, match="truncated|cut off"):
        parse(data[: len(data) // 2], url="https://example.org/x")


@pytest.mark.parametrize("family", ["rss", "arxiv_rss"])
def test_malformed_xml_names_the_line(family: str) -> None:
    namespace = ' xmlns:arxiv="http://arxiv.org/schemas/atom"' if family == "arxiv_rss" else ""
    data = f'<?xml version="1.0"?>\n<rss version="2.0"{namespace}><channel>\n<item><title>A</titel></item>'
    with pytest.raises(FeedFormatError, match="malformed at line 3") as raised:
        parse((data + "</channel></rss>").encode())
    assert detect((data + "</channel></rss>").encode()) == family
    assert "mismatched tag" in raised.value.message


def test_utf16_feed_with_bom_is_read() -> None:
    text = '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel>'
    data = (text + "<item><title>Café</title></item></channel></rss>").encode("utf-16")
    assert [listing.title for listing in parse(data)] == ["Café"]

"""bot.ingest.sources.crossref: real Crossref REST API work responses (tests/sources/data/README.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import FeedFormatError
from bot.ingest.sources import crossref, detect, parse

DATA = Path(__file__).parent / "data"


def work(doi: str) -> bytes:
    return (DATA / f"crossref_work_{doi.replace('/', '_')}.json").read_bytes()


def test_a_work_with_a_jats_abstract() -> None:
    data = work("10.1177/02683962211048201")
    assert detect(data) == "crossref"
    [paper] = parse(data)
    assert paper.title == "Artificial intelligence and the conduct of literature reviews"
    assert paper.doi == "10.1177/02683962211048201"
    assert paper.authors == ("Gerit Wagner", "Roman Lukyanenko", "Guy Paré")
    assert paper.abstract.startswith("Artificial intelligence (AI) is beginning to transform traditional")
    assert paper.abstract.endswith("shaping the future of AILRs in research.")
    assert "<" not in paper.abstract and "jats" not in paper.abstract
    assert paper.abs_url == "https://doi.org/10.1177/02683962211048201"
    assert paper.pdf_url == "http://journals.sagepub.com/doi/pdf/10.1177/02683962211048201"
    assert paper.published == datetime(2021, 10, 8, tzinfo=UTC)
    assert "Information Systems" in paper.categories


def test_a_structured_abstract_keeps_its_section_titles_as_words() -> None:
    [paper] = crossref.parse(work("10.2196/22081"))
    assert paper.abstract.startswith("Background The COVID-19 crisis has drastically changed care delivery")
    assert " Objective This study aims at identifying" in paper.abstract
    assert "jats" not in paper.abstract and "(total effects=0.722; P<.001)" in paper.abstract  # a real "<"
    assert paper.authors[0] == "Antoine Grenier Ouimet"
    assert paper.pdf_url is None  # no link of type application/pdf


def test_no_abstract_organisation_authors_and_a_year_only_date() -> None:
    [paper] = crossref.parse(work("10.17705/1cais.04607"))
    assert paper.abstract == ""
    assert paper.authors[:2] == ("Guido Schryen", "Paderborn University")
    assert "HEC Montréal" in paper.authors
    assert paper.published == datetime(2021, 1, 1, tzinfo=UTC)


def test_other_json_is_not_taken_for_a_work() -> None:
    with pytest.raises(FeedFormatError, match="expected a Crossref work response"):
        crossref.parse(b'{"status":"ok","message-type":"work-list","message":{"items":[]}}')

"""bot.ingest.sources.ids: arXiv ids, DOIs, title keys, canonical ids and text clean-up."""

from __future__ import annotations

import pytest

from bot.ingest.sources.ids import canonical_id, clean_text, normalise_doi, parse_arxiv_id, title_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2404.12345v2", ("2404.12345", 2)),
        ("2404.12345", ("2404.12345", None)),
        ("0704.0001", ("0704.0001", None)),
        ("arXiv:2404.12345", ("2404.12345", None)),
        ("ARXIV:2404.12345v10", ("2404.12345", 10)),
        ("https://arxiv.org/abs/2404.12345v3", ("2404.12345", 3)),
        ("http://arxiv.org/pdf/2404.12345v1", ("2404.12345", 1)),
        ("https://arxiv.org/pdf/2404.12345v1.pdf", ("2404.12345", 1)),
        ("https://export.arxiv.org/abs/2404.12345/", ("2404.12345", None)),
        ("https://www.arxiv.org/html/2404.12345v2", ("2404.12345", 2)),
        ("oai:arXiv.org:2609.26811v1", ("2609.26811", 1)),
        ("hep-ex/0501001v1", ("hep-ex/0501001", 1)),
        ("http://arxiv.org/abs/math.GT/0309136v2", ("math/0309136", 2)),
        ("arXiv:cond-mat/0211034", ("cond-mat/0211034", None)),
        ("10.48550/arXiv.2404.12345", ("2404.12345", None)),
        ("https://doi.org/10.48550/arXiv.2404.12345", ("2404.12345", None)),
        ("  2404.12345v2  ", ("2404.12345", 2)),
    ],
)
def test_parse_arxiv_id_accepts_every_spelling(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "10.1101/2025.04.07.647590",
        "10.1093/bioinformatics/btac431",
        "2404.123",
        "see 2404.12345",
        "https://example.org/abs/2404.12345",
        "javascript:2404.12345",
    ],
)
def test_parse_arxiv_id_rejects_non_arxiv_text(text: str) -> None:
    assert parse_arxiv_id(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.1093/Bioinformatics/btaf119", "10.1093/bioinformatics/btaf119"),
        ("https://doi.org/10.1038/S41586-024-07956-2", "10.1038/s41586-024-07956-2"),
        ("http://dx.doi.org/10.1142/S021797921244002X", "10.1142/s021797921244002x"),
        ("doi:10.1101/2023.12.16.571984", "10.1101/2023.12.16.571984"),
        ("DOI: 10.1101/456574", "10.1101/456574"),
        ("https://doi.org/10.1002%2F%28SICI%291097", "10.1002/(sici)1097"),
        ("not a doi", None),
        ("", None),
        ("https://example.org/10.1000/x", None),
    ],
)
def test_normalise_doi(text: str, expected: str | None) -> None:
    assert normalise_doi(text) == expected


def test_title_key_ignores_case_accents_punctuation_markup_and_spacing() -> None:
    key = title_key("Anti-TIGIT antibody improves PD-L1 blockade through T<sub>reg</sub> cells")
    assert key == title_key("anti tigit  antibody improves pd l1 blockade through treg cells.")
    assert title_key("Café au lait") == title_key("CAFE AU LAIT")
    assert title_key("A study") != title_key("A different study")
    assert len(key) == 16


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"arxiv_id": "2404.12345v3", "doi": "10.1000/x", "title": "T"}, "arxiv:2404.12345"),
        ({"doi": "https://doi.org/10.48550/arXiv.2404.12345", "title": "T"}, "arxiv:2404.12345"),
        ({"arxiv_id": None, "doi": "https://doi.org/10.1000/ABC", "title": "T"}, "doi:10.1000/abc"),
        ({"arxiv_id": "not an id", "doi": None, "title": "A Title"}, f"title:{title_key('a title')}"),
        ({"title": "Only a title"}, f"title:{title_key('Only a title')}"),
    ],
)
def test_canonical_id_prefers_arxiv_then_doi_then_title(kwargs: dict[str, str | None], expected: str) -> None:
    assert canonical_id(**kwargs) == expected


def test_canonical_id_needs_something() -> None:
    with pytest.raises(ValueError, match="arXiv id, a DOI or a title"):
        canonical_id(arxiv_id=None, doi=None, title="  ")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<p>In 2015 the first\ncollisions</p><p>Second</p>", "In 2015 the first collisions Second"),
        ("T<sub>reg</sub> cells", "Treg cells"),
        ("$2.6&lt;\\eta&lt;4$ and $x^2$", "$2.6<\\eta<4$ and $x^2$"),
        ("a &amp;lt; b", "a &lt; b"),  # decoded once: the feed layer already decoded one level
        ("Caf&eacute; &#233; &#xE9;", "Café é é"),
        ("p < 0.05 and q > 0.1", "p < 0.05 and q > 0.1"),
        ("$a<b$ is kept", "$a<b$ is kept"),
        ("for all n <k and m> 0", "for all n <k and m> 0"),
        ("<mml:math><mml:mi>x</mml:mi></mml:math> and <math><mi>y</mi></math>", "x and y"),
        ("<SPAN CLASS='x'>Upper</SPAN>", "Upper"),
        ("x<br/>y<br>z", "x y z"),
        ("<script>alert(1)</script>safe <!-- note --> text", "safe text"),
        ('<a href="http://x">Christopher Dilks</a> (STAR)', "Christopher Dilks (STAR)"),
        ("<jats:p>Namespaced</jats:p><jats:title>tags</jats:title>", "Namespaced tags"),
        ("  spaced\u00a0 out\t\n", "spaced out"),
        ("", ""),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected

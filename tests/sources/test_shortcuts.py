"""bot.ingest.sources.shortcuts: resolve_source turns shortcuts into feed URLs."""

from __future__ import annotations

import pytest

from bot.errors import InvalidInput
from bot.ingest.sources import resolve_source


@pytest.mark.parametrize(
    ("spec", "url"),
    [
        ("arxiv:cs.LG", "https://rss.arxiv.org/rss/cs.LG"),
        ("arxiv:cs.LG+stat.ML", "https://rss.arxiv.org/rss/cs.LG+stat.ML"),
        ("arxiv:hep-ex", "https://rss.arxiv.org/rss/hep-ex"),
        ("  ARXIV:math.AG  ", "https://rss.arxiv.org/rss/math.AG"),
        ("biorxiv:bioinformatics", "https://connect.biorxiv.org/biorxiv_xml.php?subject=bioinformatics"),
        ("biorxiv:cancer biology", "https://connect.biorxiv.org/biorxiv_xml.php?subject=cancer_biology"),
        ("medrxiv:Pediatrics", "https://connect.medrxiv.org/medrxiv_xml.php?subject=Pediatrics"),
        ("hf:daily", "https://huggingface.co/api/daily_papers"),
        ("https://www.nature.com/nature.rss", "https://www.nature.com/nature.rss"),
        (
            "http://export.arxiv.org/api/query?search_query=all:x",
            "http://export.arxiv.org/api/query?search_query=all:x",
        ),
        ("file:///tmp/feed.xml", "file:///tmp/feed.xml"),
        ("/srv/feeds/nature.xml", "/srv/feeds/nature.xml"),
        ("./feeds/x", "./feeds/x"),
        ("~/feed.atom", "~/feed.atom"),
        ("feed.json", "feed.json"),
        ("C:\\feeds\\x.xml", "C:\\feeds\\x.xml"),
    ],
)
def test_resolves(spec: str, url: str) -> None:
    assert resolve_source(spec) == url


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("arxiv:", "not a valid arXiv category list; use e.g. arxiv:cs.LG"),
        ("arxiv:cs.LG stat.ML", "not a valid arXiv category list"),
        ("biorxiv:", "needs a subject, e.g. biorxiv:bioinformatics"),
        ("hf:weekly", "the one available is hf:daily"),
        ("pubmed:cancer", "is not a source paperbot knows; use arxiv:<category>"),
        ("cs.LG", "(did you mean arxiv:cs.LG?)"),
        ("", "is not a source paperbot knows"),
        ("ftp://example.org/feed.xml", "is not a source paperbot knows"),
    ],
)
def test_rejects_with_the_accepted_forms(spec: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        resolve_source(spec)
    assert message in raised.value.message
    assert raised.value.status == 400

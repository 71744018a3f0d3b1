"""Fuzzing with hypothesis, bounded in time: the feed parser and the email token readers fail only
with their own errors, whatever they are given."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.email.links import Links
from bot.errors import FeedFormatError, TokenError
from bot.ingest.sources import parse

FUZZ = settings(
    max_examples=150, deadline=1000, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LINKS = Links(["fuzz-signing-key-" + "z" * 30], base_url="http://localhost:8000")
SEEDS = (
    "arxiv_api_query_transformer_cs.LG_m5_2026-06-14.atom.xml",
    "arxiv_rss_new_cs.LG_2026-04-27_trimmed.xml",
    "biorxiv_api_details_record_10.1101-456574.json",
    "bmc_bioinformatics_rss2_2025-04-13.xml",
    "medrxiv_api_details_2026-09-15_3records.json",
    "plos_compbiol_atom_2025-04-13.xml",
    "pubmed_esearch_2026-06.json",
    "s2_recommendations_forpaper_fields-title.json",
    "arxiv_rss_old_rdf_hep-ex_2018-05-23_abridged.xml",
)
REAL = {name: (Path(__file__).resolve().parents[3] / "shared" / "data" / "feeds" / name) for name in SEEDS}


def _parse_or_format_error(data: bytes) -> None:
    try:
        parse(data, url="https://example.org/feed")
    except FeedFormatError as exc:
        assert exc.message  # a message for the user, never an empty one


@FUZZ
@given(st.binary(max_size=2048))
def test_parse_arbitrary_bytes_only_raises_feed_format_error(data: bytes) -> None:
    _parse_or_format_error(data)


@st.composite
def mutated_feed(draw: st.DrawFn) -> bytes:
    """A real feed file, cut, with bytes flipped, spliced or repeated."""
    path = REAL[draw(st.sampled_from(SEEDS))]
    data = bytearray(path.read_bytes()[: draw(st.integers(200, 12_000))])
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "repeat"]))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw(
                st.sampled_from([b"<", b">", b"&", b'"', b"\x00", b"]]>", b"{", b"}", b"\xff", b"<![CDATA["])
            )
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 200))] * draw(st.integers(2, 20))
    return bytes(data)


@FUZZ
@given(mutated_feed())
def test_parse_mutated_real_feeds_only_raises_feed_format_error(data: bytes) -> None:
    _parse_or_format_error(data)


def test_the_seed_feeds_are_there() -> None:
    missing = [name for name, path in REAL.items() if not path.is_file()]
    assert not missing, f"fuzz seeds not found: {missing}"


Reader = Callable[..., object]
READERS: list[Reader] = [LINKS.read_feedback, LINKS.read_unsubscribe, LINKS.read_manage, LINKS.read_confirm]
VALID = [
    LINKS.feedback_token(item_id=7, now=NOW),
    LINKS.unsubscribe_token(subscription_id=7, now=NOW),
    LINKS.manage_token(subscription_id=7, now=NOW),
    LINKS.confirm_token(email="a@example.org", interests=["protein design", "graphs"], now=NOW),
]


@pytest.mark.parametrize("reader", READERS, ids=["feedback", "unsubscribe", "manage", "confirm"])
@FUZZ
@given(
    token=st.text(max_size=200)
    | st.from_regex(r"[A-Za-z0-9_\-]{0,40}\.[A-Za-z0-9_\-]{0,12}\.[A-Za-z0-9_\-]{0,40}")
)
def test_token_readers_raise_only_token_errors(reader: Reader, token: str) -> None:
    with contextlib.suppress(TokenError):
        reader(token, now=NOW)


@pytest.mark.parametrize("which", range(4), ids=["feedback", "unsubscribe", "manage", "confirm"])
@FUZZ
@given(data=st.data())
def test_edited_valid_tokens_are_refused_or_read_the_same(which: int, data: st.DataObject) -> None:
    token, reader = VALID[which], READERS[which]
    at = data.draw(st.integers(0, len(token) - 1))
    edit = data.draw(st.sampled_from(["replace", "truncate", "insert"]))
    char = data.draw(st.sampled_from("ABCxyz019-_.=~%/"))
    edited = {
        "replace": token[:at] + char + token[at + 1 :],
        "truncate": token[:at],
        "insert": token[:at] + char + token[at:],
    }[edit]
    try:
        read = reader(edited, now=NOW)
    except TokenError:
        return
    assert read == reader(token, now=NOW)  # only an edit base64 ignores may pass, and it changes nothing

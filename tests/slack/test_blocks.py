"""bot.channels.slack.blocks: valid Block Kit under Slack's limits, split when long, text that cannot ping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.channels.slack.blocks import (
    MAX_BLOCKS,
    MAX_TEXT,
    escape,
    link,
    mark_vote,
    render_digest,
    text_length,
)
from bot.records import DigestEntry, DigestView, ListingView

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def listing(
    n: int, *, title: str | None = None, abstract: str = "We study things.", url: str | None = None
) -> ListingView:
    return ListingView(
        id=n,
        canonical_id=f"arxiv:2611.{n:05d}",
        title=title or f"Paper number {n}",
        abstract=abstract,
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.LG",),
        arxiv_id=f"2611.{n:05d}",
        doi=None,
        version=1,
        abs_url=url if url is not None else f"https://arxiv.org/abs/2611.{n:05d}",
        pdf_url=None,
        published=NOW,
        first_seen=NOW,
        sources=("arxiv_api",),
        upvotes=None,
    )


def digest(
    listings: list[ListingView], *, target: str = "U0ALICE", interests: tuple[str, ...] = ("graphs",)
) -> DigestView:
    entries = tuple(
        DigestEntry(
            item_id=100 + i,
            position=i + 1,
            listing=x,
            score=0.5,
            reason="Close to: graphs",
            interest_label="graphs",
        )
        for i, x in enumerate(listings)
    )
    return DigestView(
        id=1,
        subscription_id=1,
        subscriber_id=1,
        subscriber_name="alice",
        channel="slack",
        target=target,
        period="2026-11-23",
        period_start=NOW,
        period_end=NOW,
        interests=interests,
        entries=entries,
        status="claimed",
    )


def assert_valid(payload: dict[str, Any]) -> None:
    """What Slack enforces: each block valid per slack_sdk's models, ≤50 blocks, ≤~12k characters."""
    blocks = payload["blocks"]
    assert payload["text"].strip()
    assert 0 < len(blocks) <= MAX_BLOCKS
    assert text_length(blocks) <= MAX_TEXT
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()
        assert block.to_dict() == raw


def test_a_short_digest_is_one_valid_message_with_buttons_per_paper() -> None:
    messages = render_digest(digest([listing(1), listing(2)]))
    assert len(messages) == 1
    payload = messages[0].payload()
    assert_valid(payload)
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds == ["header", "section", "actions", "section", "actions", "context"]
    buttons = payload["blocks"][2]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("vote:up", "100"),
        ("vote:down", "100"),
        ("vote:save", "100"),
    ]
    assert "<https://arxiv.org/abs/2611.00001|Paper number 1>" in payload["blocks"][1]["text"]["text"]
    assert "graphs" in payload["blocks"][-1]["elements"][0]["text"]
    assert messages[0].item_ids == (100, 101)


def test_fifty_long_papers_split_before_the_block_and_text_limits() -> None:
    long_abstract = "word " * 2000
    view = digest([listing(n, title="T" * 400, abstract=long_abstract) for n in range(50)])
    messages = render_digest(view)
    assert len(messages) > 2
    for message in messages:
        assert_valid(message.payload())
    assert [i for m in messages for i in m.item_ids] == [e.item_id for e in view.entries]
    assert messages[1].text.endswith(f"(2/{len(messages)})")


@pytest.mark.parametrize("hostile", ["<!channel> read this", "<@U0BOSS> look", "<!here|here>", "a & b > c"])
def test_feed_text_is_escaped_so_it_can_never_ping(hostile: str) -> None:
    view = digest([listing(1, title=hostile, abstract=hostile)], interests=(hostile,))
    payload = render_digest(view)[0].payload()
    assert_valid(payload)
    dumped = str(payload)
    assert "<!" not in dumped and "<@" not in dumped
    assert escape(hostile) in payload["blocks"][1]["text"]["text"]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "slack://open", "ftp://x.org/p", "https://x.org/a|b>"]
)
def test_only_http_links_are_linked(url: str) -> None:
    text = render_digest(digest([listing(1, url=url)]))[0].payload()["blocks"][1]["text"]["text"]
    assert "<" not in text.replace("&lt;", "")
    assert link("https://x.org/?a=1&b=2", "x") == "<https://x.org/?a=1&amp;b=2|x>"


def test_a_channel_digest_is_a_parent_and_one_paper_per_reply() -> None:
    view = digest([listing(n) for n in range(1, 4)], target="C0LAB")
    parent, *replies = render_digest(view, threaded=True)
    assert parent.item_ids == ()
    assert "1. <https://arxiv.org/abs/2611.00001|Paper number 1>" in str(parent.payload())
    assert "shared profile" in str(parent.payload())
    assert [r.item_ids for r in replies] == [(100,), (101,), (102,)]
    for message in (parent, *replies):
        assert_valid(message.payload())


def test_an_empty_digest_still_renders() -> None:
    (message,) = render_digest(digest([]))
    assert_valid(message.payload())
    assert message.item_ids == ()


def test_mark_vote_highlights_the_chosen_button_of_that_item_only() -> None:
    blocks = render_digest(digest([listing(1), listing(2)]))[0].payload()["blocks"]
    marked = mark_vote(blocks, 101, "down")
    assert marked[2] == blocks[2]
    down = marked[4]["elements"][1]
    assert down["style"] == "primary" and down["text"]["text"].endswith("✓")
    assert "style" not in marked[4]["elements"][0]
    again = mark_vote(marked, 101, "up")
    assert [b.get("style") for b in again[4]["elements"]] == ["primary", None, None]
    for raw in again:
        Block.parse(raw).validate_json()  # type: ignore[union-attr]

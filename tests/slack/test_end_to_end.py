"""End to end over Slack: subscribe with the slash command and modal, the sample is ingested (real
model), the due digest goes out, 👎 on the first paper, the next run: its close neighbours fall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.channels.slack.blocks import link
from bot.digests.run import run_due
from bot.records import Recommendation
from bot.service import Paperbot
from bot.vectors.embed import listing_text
from tests.slack.fake_slack import FakeSlack
from tests.slack.helpers import eventually
from tests.slack.signed import SlackSender
from tests.slack.test_commands import modal_values, open_modal

pytestmark = pytest.mark.slow


def ranks(picks: list[Recommendation], among: set[int]) -> dict[int, int]:
    """Rank of each listing in `picks`, counting only listings in `among`."""
    kept = [pick.listing.id for pick in picks if pick.listing.id in among]
    return {listing_id: rank for rank, listing_id in enumerate(kept)}


def test_a_thumbs_down_pushes_the_papers_neighbours_down(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    now = datetime.now(UTC)
    view = open_modal(slack, fake_slack)
    interests = (
        "single-cell RNA sequencing analysis with language models\ncomputational pathology foundation models"
    )
    values = modal_values(
        interests=interests, time=f"{now - timedelta(hours=2):%H:%M}", timezone="UTC", frequency="daily"
    )
    assert slack.view_submission(view, values).status_code == 200
    profile = eventually(lambda: bot.find_subscriber(slack_user_id="U0ALICE"))
    assert profile is not None and len(profile.interests) == 2

    (first_run,) = run_due(bot, now=now, sleep=lambda _s: None)
    assert first_run.status == "sent" and first_run.items >= 2
    (post,) = fake_slack.calls("chat.postMessage")
    assert post.body["channel"] == "D0ALICE" and first_run.location == post.answer["ts"]

    next_run = now + timedelta(days=1)
    since = now - timedelta(days=30)
    before = bot.recommend(subscriber_id=profile.id, since=since, now=next_run, limit=200, min_score=-10.0)
    actions = post.body["blocks"][2]
    message = {"ts": post.answer["ts"], "text": post.body["text"], "blocks": post.body["blocks"]}
    slack.click(message, "D0ALICE", {**actions["elements"][1], "block_id": actions["block_id"]})
    fake_slack.wait_for("chat.update")
    assert bot.subscriber(subscriber_id=profile.id).votes == {"down": 1}
    after = bot.recommend(subscriber_id=profile.id, since=since, now=next_run, limit=200, min_score=-10.0)

    # the disliked paper's nearest neighbours among the candidates (real embeddings) fall in rank:
    # the nearest one, and the five nearest together (measured: [8, 2, 0, -1, 0] places)
    section = post.body["blocks"][1]["text"]["text"]
    disliked = next(x for x in bot.listings() if section.startswith(f"*1. {link(x.abs_url, x.title)}*"))
    texts = [listing_text(disliked.title, disliked.abstract)] + [
        listing_text(p.listing.title, p.listing.abstract) for p in before
    ]
    vectors = bot.encoder.encode(texts)
    similarity = vectors[1:] @ vectors[0]
    common = {p.listing.id for p in before} & {p.listing.id for p in after}  # candidates both times
    order = [before[i].listing.id for i in np.argsort(-similarity) if before[i].listing.id in common]
    old, new = ranks(before, common), ranks(after, common)
    fallen = [new[n] - old[n] for n in order]
    assert fallen[0] > 0, fallen[:5]
    assert sum(fallen[:5]) > 0, fallen[:5]

    (second_run,) = run_due(bot, now=next_run, sleep=lambda _s: None)
    assert second_run.status in ("sent", "empty") and second_run.period != first_run.period
    for post in fake_slack.calls("chat.postMessage")[1:]:
        assert link(disliked.abs_url, disliked.title) not in str(post.body["blocks"])

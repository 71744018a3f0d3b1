"""Votes from Slack: button clicks, reactions (and their removal), event retries, App Home."""

from __future__ import annotations

import time
from typing import Any

from bot.service import Paperbot
from tests.slack.fake_slack import FakeSlack, Recorded
from tests.slack.helpers import due_schedule, eventually, run_digest_now
from tests.slack.signed import SlackSender


def deliver(
    bot: Paperbot, fake: FakeSlack, *, user: str | None = None, channel: str | None = None
) -> tuple[int, list[Recorded]]:
    """Subscribe a person or a channel, send the due digest; returns the subscriber id and the posts."""
    profile = bot.subscribe(
        slack_user_id=user,
        slack_channel_id=channel,
        interests=["graph neural networks"],
        schedule=due_schedule(size=3),
    )
    result = run_digest_now(bot, profile.subscriptions[0].id)
    assert result.status == "sent", result
    return profile.id, fake.calls("chat.postMessage")


def message(post: Recorded) -> dict[str, Any]:
    """The message as Slack would hand it back in a block_actions payload."""
    return {"ts": post.answer["ts"], "text": post.body["text"], "blocks": post.body["blocks"]}


def votes(bot: Paperbot, subscriber_id: int) -> dict[str, int]:
    return bot.subscriber(subscriber_id=subscriber_id).votes


def reaction(kind: str, post: Recorded, *, name: str = "+1", user: str = "U0BOB") -> dict[str, Any]:
    item = {"type": "message", "channel": post.body["channel"], "ts": post.answer["ts"]}
    return {"type": kind, "user": user, "reaction": name, "item": item, "event_ts": str(time.time())}


def test_a_click_stores_the_vote_and_updates_the_message(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    subscriber_id, (post,) = deliver(bot, fake_slack, user="U0ALICE")
    actions = post.body["blocks"][2]
    down = actions["elements"][1]
    answer = slack.click(message(post), post.body["channel"], {**down, "block_id": actions["block_id"]})
    assert answer.status_code == 200
    update = fake_slack.wait_for("chat.update")[0].body
    assert (update["channel"], update["ts"]) == ("D0ALICE", post.answer["ts"])
    chosen = update["blocks"][2]["elements"][1]
    assert chosen["style"] == "primary" and chosen["text"]["text"] == "👎 Less like this ✓"
    assert update["blocks"][4] == post.body["blocks"][4]  # the other papers are untouched
    assert votes(bot, subscriber_id) == {"down": 1}
    slack.click(message(post), post.body["channel"], {**down, "block_id": actions["block_id"]})
    fake_slack.wait_for("chat.update", 2)
    assert votes(bot, subscriber_id) == {"down": 1}  # clicking again changes nothing


def test_a_reaction_on_a_one_paper_reply_stores_the_vote_and_removing_it_undoes(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    channel_id, (parent, first, *_) = deliver(bot, fake_slack, channel="C0LAB")
    assert first.body["thread_ts"] == parent.answer["ts"]
    assert slack.event(reaction("reaction_added", first, name="+1::skin-tone-3")).status_code == 200
    assert eventually(lambda: votes(bot, channel_id)) == {"up": 1}
    slack.event(reaction("reaction_removed", first, name="+1::skin-tone-3"))
    eventually(lambda: votes(bot, channel_id) == {})


def test_reactions_that_do_not_name_one_paper_are_ignored(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    channel_id, (parent, first, *_) = deliver(bot, fake_slack, channel="C0LAB")
    slack.event(reaction("reaction_added", parent))  # the parent lists three papers
    slack.event(reaction("reaction_added", first, name="tada"))  # not a vote
    slack.event(reaction("reaction_added", first, name="bookmark"))
    assert eventually(lambda: votes(bot, channel_id)) == {"save": 1}


def test_a_retried_event_is_processed_once(slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot) -> None:
    channel_id, (_, first, *_) = deliver(bot, fake_slack, channel="C0LAB")
    slack.event(reaction("reaction_added", first, name="-1"), event_id="Ev0DOWN1")
    eventually(lambda: votes(bot, channel_id) == {"down": 1})
    slack.event(reaction("reaction_removed", first, name="-1"), event_id="Ev0UNDO1")
    eventually(lambda: votes(bot, channel_id) == {})
    retry = slack.event(reaction("reaction_added", first, name="-1"), event_id="Ev0DOWN1", retry=1)
    assert retry.status_code == 200
    time.sleep(0.5)  # had it run, the listener would have stored the vote by now
    assert votes(bot, channel_id) == {}


def test_channel_votes_teach_the_channel_and_dm_votes_the_person(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    person_id, (dm_post,) = deliver(bot, fake_slack, user="U0ALICE")
    channel_id, posts = deliver(bot, fake_slack, channel="C0LAB")
    reply = posts[2]  # after the DM and the channel's parent message
    slack.event(reaction("reaction_added", reply, user="U0ALICE"))
    eventually(lambda: votes(bot, channel_id) == {"up": 1})
    buttons = dm_post.body["blocks"][2]
    slack.click(message(dm_post), "D0ALICE", {**buttons["elements"][2], "block_id": buttons["block_id"]})
    eventually(lambda: votes(bot, person_id) == {"save": 1})
    assert votes(bot, channel_id) == {"up": 1}


def test_app_home_shows_interests_deliveries_latest_digest_and_votes(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    subscriber_id, (post,) = deliver(bot, fake_slack, user="U0ALICE")
    buttons = post.body["blocks"][2]
    slack.click(message(post), "D0ALICE", {**buttons["elements"][0], "block_id": buttons["block_id"]})
    eventually(lambda: votes(bot, subscriber_id) == {"up": 1})
    slack.event({"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"})
    published = fake_slack.wait_for("views.publish")[0].body
    assert published["user_id"] == "U0ALICE"
    text = str(published["view"]["blocks"])
    for expected in (
        "graph neural networks",
        "Daily at",
        "(UTC)",
        ": sent",
        "👍 1 · 👎 0 · 🔖 0",
        "home:edit",
    ):
        assert expected in text


def test_app_home_of_someone_without_a_digest_offers_to_subscribe(
    slack: SlackSender, fake_slack: FakeSlack
) -> None:
    slack.event({"type": "app_home_opened", "user": "U0CAROL", "channel": "D0CAROL", "tab": "home"})
    view = fake_slack.wait_for("views.publish")[0].body["view"]
    assert "no digest yet" in str(view["blocks"])
    slack.home_click({"action_id": "home:edit"}, user="U0CAROL")
    modal = fake_slack.wait_for("views.open")[0].body["view"]
    assert modal["callback_id"] == "papers_subscribe"


def test_home_buttons_pause_and_remove_an_interest(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    subscriber_id, _ = deliver(bot, fake_slack, user="U0ALICE")
    interest = bot.subscriber(subscriber_id=subscriber_id).interests[0]
    slack.home_click({"action_id": "home:pause"})
    fake_slack.wait_for("views.publish")
    assert bot.subscriber(subscriber_id=subscriber_id).subscriptions[0].paused_reason == "paused in App Home"
    slack.home_click({"action_id": "home:remove_interest", "value": str(interest.id)})
    fake_slack.wait_for("views.publish", 2)
    assert bot.subscriber(subscriber_id=subscriber_id).interests == ()


def test_a_refused_delivery_shows_its_reason_in_app_home(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    profile = bot.subscribe(
        slack_user_id="U0ALICE", interests=["graph neural networks"], schedule=due_schedule()
    )
    fake_slack.fail_next("chat.postMessage", error="account_inactive")
    result = run_digest_now(bot, profile.subscriptions[0].id)
    assert result.status == "failed" and result.error is not None and "reinstall paperbot" in result.error
    slack.event({"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"})
    home = str(fake_slack.wait_for("views.publish")[0].body["view"]["blocks"])
    assert "failed (the Slack app behind PAPERBOT_SLACK_BOT_TOKEN was uninstalled" in home


def test_app_home_lists_saved_papers_and_removes_one(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    subscriber_id, (post,) = deliver(bot, fake_slack, user="U0ALICE")
    buttons = post.body["blocks"][2]
    slack.click(message(post), "D0ALICE", {**buttons["elements"][2], "block_id": buttons["block_id"]})
    eventually(lambda: votes(bot, subscriber_id) == {"save": 1})
    (paper,) = bot.saved_papers(subscriber_id=subscriber_id)
    slack.event({"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"})
    blocks = fake_slack.wait_for("views.publish")[0].body["view"]["blocks"]
    (row,) = [b for b in blocks if b.get("accessory", {}).get("action_id") == "home:remove_saved"]
    assert row["accessory"]["value"] == str(paper.id) and "Saved papers" in str(blocks)
    slack.home_click({"action_id": "home:remove_saved", "value": str(paper.id)})
    after = fake_slack.wait_for("views.publish", 2)[1].body["view"]["blocks"]
    assert bot.saved_papers(subscriber_id=subscriber_id) == [] and "None yet: 🔖 Save" in str(after)

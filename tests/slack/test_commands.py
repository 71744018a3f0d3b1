"""`/papers` and the subscribe modal, over real HTTP with real signatures, against the fake Web API."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import pytest

from bot.service import Paperbot
from tests.slack.fake_slack import FakeSlack
from tests.slack.helpers import due_schedule
from tests.slack.signed import SlackSender


def modal_values(**overrides: Any) -> dict[str, Any]:
    """view.state.values as Slack sends them for the subscribe modal."""
    fields = {
        "interests": "graph neural networks for molecules\nprotein structure prediction",
        "seeds": "",
        "time": "07:30",
        "timezone": "Europe/Berlin",
        "frequency": "weekdays",
        "weekday": "0",
        "delivery": "dm",
        "email": "",
        **overrides,
    }
    return {
        "interests": {"value": {"type": "plain_text_input", "value": fields["interests"] or None}},
        "seeds": {"value": {"type": "plain_text_input", "value": fields["seeds"] or None}},
        "time": {"value": {"type": "timepicker", "selected_time": fields["time"]}},
        "timezone": {"value": {"type": "plain_text_input", "value": fields["timezone"]}},
        "frequency": {"value": {"type": "static_select", "selected_option": {"value": fields["frequency"]}}},
        "weekday": {"value": {"type": "static_select", "selected_option": {"value": fields["weekday"]}}},
        "delivery": {"value": {"type": "radio_buttons", "selected_option": {"value": fields["delivery"]}}},
        "email": {"value": {"type": "email_text_input", "value": fields["email"] or None}},
    }


def open_modal(slack: SlackSender, fake: FakeSlack, *, channel: str = "D0ALICE") -> dict[str, Any]:
    response = slack.command("subscribe", channel=channel)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = fake.wait_for("views.open")[-1].body["view"]
    return view


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


@pytest.mark.parametrize(
    "tamper",
    [
        {"signed": False},
        {"timestamp": int(time.time()) - 600},  # older than Slack's 5-minute window
        {"secret": "not-the-signing-secret"},
    ],
    ids=["unsigned", "stale", "wrong-secret"],
)
def test_unsigned_stale_or_wrongly_signed_requests_get_401_and_change_nothing(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot, tamper: dict[str, Any]
) -> None:
    view = {"callback_id": "papers_subscribe", "private_metadata": "{}", "blocks": []}
    slack.post = partial(slack.post, **tamper)  # type: ignore[method-assign]
    assert slack.command("subscribe").status_code == 401
    assert slack.view_submission(view, modal_values()).status_code == 401
    time.sleep(0.3)  # time for any listener that (wrongly) ran
    assert {r.method for r in fake_slack.requests} <= {"auth.test"}
    assert bot.find_subscriber(slack_user_id="U0ALICE") is None


def test_help_and_unknown_verbs_answer_with_ephemeral_help(slack: SlackSender) -> None:
    plain = slack.command("")
    assert plain.status_code == 200 and "/papers subscribe" in plain.json()["text"]
    assert plain.json().get("response_type") != "in_channel"
    unknown = slack.command("frobnicate now").json()["text"]
    assert unknown.startswith("I don't know `frobnicate`") and "/papers interests" in unknown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * 10_240, "10,240 characters long"),
        ("pause\u202e", "invisible control characters"),
        ("a\x00b", "invisible"),
    ],
)
def test_hostile_input_gets_a_clear_ephemeral_error(
    slack: SlackSender, fake_slack: FakeSlack, text: str, message: str
) -> None:
    answer = slack.command(text)
    assert answer.status_code == 200
    assert answer.json()["text"].startswith(":x: ") and message in answer.json()["text"]
    assert "Traceback" not in answer.text
    assert not fake_slack.calls("views.open")


def test_subscribe_opens_the_modal_with_the_users_slack_time_zone(
    slack: SlackSender, fake_slack: FakeSlack
) -> None:
    view = open_modal(slack, fake_slack)
    assert fake_slack.calls("users.info")[0].body["user"] == "U0ALICE"
    assert view["callback_id"] == "papers_subscribe"
    assert block(view, "timezone")["element"]["initial_value"] == "Europe/Berlin"
    options = [o["value"] for o in block(view, "delivery")["element"]["options"]]
    assert options == ["dm", "email"]  # typed in the app's DM: no channel to post in


def test_the_modal_creates_the_subscription(slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot) -> None:
    view = open_modal(slack, fake_slack)
    answer = slack.view_submission(view, modal_values())
    assert answer.status_code == 200 and answer.text == ""  # closes the modal
    confirmation = fake_slack.wait_for("chat.postEphemeral")[0].body
    assert confirmation["user"] == "U0ALICE" and "Saved" in confirmation["text"]
    profile = bot.find_subscriber(slack_user_id="U0ALICE")
    assert profile is not None and profile.kind == "person"
    assert [i.label for i in profile.interests] == [
        "graph neural networks for molecules",
        "protein structure prediction",
    ]
    (sub,) = profile.subscriptions
    assert (sub.channel, sub.target, sub.frequency, sub.send_time, sub.timezone) == (
        "slack",
        "U0ALICE",
        "weekdays",
        "07:30",
        "Europe/Berlin",
    )


def test_the_modal_in_a_channel_can_create_the_channels_shared_profile(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    view = open_modal(slack, fake_slack, channel="C0LAB")
    assert [o["value"] for o in block(view, "delivery")["element"]["options"]] == ["dm", "channel", "email"]
    slack.view_submission(view, modal_values(delivery="channel"))
    fake_slack.wait_for("chat.postEphemeral")
    shared = bot.find_subscriber(slack_channel_id="C0LAB")
    assert shared is not None and shared.kind == "channel"
    assert shared.subscriptions[0].target == "C0LAB"
    assert bot.find_subscriber(slack_user_id="U0ALICE") is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "unknown"),
        ({"interests": "", "seeds": ""}, "interests", "at least one interest"),
        ({"delivery": "email"}, "email", "address"),
        ({"interests": "y" * 1200}, "interests", "1,200 characters"),
        ({"interests": "graphs\u202e"}, "interests", "invisible"),
    ],
)
def test_modal_errors_come_back_in_the_ack_and_nothing_is_saved(
    slack: SlackSender,
    fake_slack: FakeSlack,
    bot: Paperbot,
    overrides: dict[str, str],
    field: str,
    message: str,
) -> None:
    view = open_modal(slack, fake_slack)
    answer = slack.view_submission(view, modal_values(**overrides))
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_action"] == "errors" and message in body["errors"][field]
    time.sleep(0.2)
    assert bot.find_subscriber(slack_user_id="U0ALICE") is None


def subscribed(bot: Paperbot, *, user: str | None = None, channel: str | None = None) -> int:
    profile = bot.subscribe(
        slack_user_id=user,
        slack_channel_id=channel,
        interests=["graph neural networks"],
        schedule=due_schedule(),
    )
    return profile.id


def test_interests_list_add_and_remove(slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot) -> None:
    subscriber_id = subscribed(bot, user="U0ALICE")
    assert "1. graph neural networks" in slack.command("interests").json()["text"]
    assert slack.command("interests add protein design").json()["text"].startswith("Adding")
    assert "Added interest 'protein design'" in fake_slack.wait_for("response")[0].body["text"]
    labels = [i.label for i in bot.subscriber(subscriber_id=subscriber_id).interests]
    assert labels == ["graph neural networks", "protein design"]
    assert "Removed interest 'graph neural networks'" in slack.command("interests remove 1").json()["text"]
    assert "Usage" in slack.command("interests remove 9").json()["text"]
    assert [i.label for i in bot.subscriber(subscriber_id=subscriber_id).interests] == ["protein design"]


def test_pause_resume_and_unsubscribe(slack: SlackSender, bot: Paperbot) -> None:
    subscriber_id = subscribed(bot, user="U0ALICE")
    assert "paused: paused with /papers pause" in slack.command("pause").json()["text"]
    assert not bot.subscriber(subscriber_id=subscriber_id).subscriptions[0].active
    assert "(active)" in slack.command("resume").json()["text"]
    assert "unsubscribed" in slack.command("unsubscribe").json()["text"]
    assert bot.subscriber(subscriber_id=subscriber_id).subscriptions[0].paused_reason == "unsubscribed"


def test_commands_in_a_channel_with_a_shared_profile_act_on_it(slack: SlackSender, bot: Paperbot) -> None:
    channel_id = subscribed(bot, channel="C0LAB")
    person_id = subscribed(bot, user="U0ALICE")
    assert "shared profile of <#C0LAB>" in slack.command("pause", channel="C0LAB").json()["text"]
    assert not bot.subscriber(subscriber_id=channel_id).subscriptions[0].active
    assert bot.subscriber(subscriber_id=person_id).subscriptions[0].active


def test_commands_without_a_profile_point_to_subscribe(slack: SlackSender) -> None:
    for verb in ("pause", "interests", "now", "settings"):
        assert "/papers subscribe" in slack.command(verb).json()["text"]


def test_now_sends_the_digest_and_reports_ephemerally(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    subscribed(bot, user="U0ALICE")
    assert slack.command("now").json()["text"].startswith("Putting your digest together")
    report = fake_slack.wait_for("response")[0].body
    assert "sent (5 papers)" in report["text"] and report["response_type"] == "ephemeral"
    (post,) = fake_slack.calls("chat.postMessage")
    assert post.body["channel"] == "D0ALICE" and len(post.body["blocks"]) == 1 + 5 * 2 + 1


def test_settings_prefills_the_modal_and_moving_the_delivery_pauses_the_old_one(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    subscriber_id = subscribed(bot, user="U0ALICE")
    (old,) = bot.subscriber(subscriber_id=subscriber_id).subscriptions
    assert slack.command("settings").status_code == 200
    view = fake_slack.wait_for("views.open")[0].body["view"]
    assert not fake_slack.calls("users.info")  # the time zone comes from the delivery
    assert block(view, "time")["element"]["initial_time"] == old.send_time
    assert block(view, "interests")["label"]["text"] == "Add interests"
    values = modal_values(
        interests="", time="06:15", timezone="UTC", delivery="email", email="alice@example.org"
    )
    assert slack.view_submission(view, values).text == ""
    fake_slack.wait_for("chat.postEphemeral")
    dm, email = bot.subscriber(subscriber_id=subscriber_id).subscriptions
    assert (dm.target, dm.active, dm.paused_reason) == (
        "U0ALICE",
        False,
        "replaced by delivery to alice@example.org",
    )
    assert (email.channel, email.target, email.send_time, email.active) == (
        "email",
        "alice@example.org",
        "06:15",
        True,
    )
    assert [i.label for i in bot.subscriber(subscriber_id=subscriber_id).interests] == [
        "graph neural networks"
    ]


def test_saving_the_settings_modal_keeps_the_digest_size_it_does_not_show(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    subscriber_id = subscribed(bot, user="U0ALICE")
    (sub,) = bot.subscriber(subscriber_id=subscriber_id).subscriptions
    bot.update_subscription(sub.id, size=8, always_send=True)
    slack.command("settings")
    view = fake_slack.wait_for("views.open")[0].body["view"]
    assert slack.view_submission(view, modal_values(interests="", time="06:15")).text == ""
    fake_slack.wait_for("chat.postEphemeral")
    (saved,) = bot.subscriber(subscriber_id=subscriber_id).subscriptions
    assert (saved.send_time, saved.frequency, saved.digest_size, saved.always_send) == (
        "06:15",
        "weekdays",
        8,
        True,
    )

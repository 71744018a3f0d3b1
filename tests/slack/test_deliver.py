"""bot.channels.slack.post against the fake Web API: retries, pacing, DMs, and errors that say the fix."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.slack.post import Pacer, SlackPoster, deliver_digest, make_client
from bot.config import Settings
from bot.digests import store
from bot.digests.batch import Batch
from bot.digests.period import latest_period
from bot.errors import ConfigError, DeliveryError, TemporaryDeliveryError
from bot.inputs import Schedule
from bot.records import SubscriptionView
from bot.service import Paperbot
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_blocks import digest, listing

SUBSCRIPTION = SubscriptionView(
    id=1,
    subscriber_id=1,
    channel="slack",
    target="C0LAB",
    frequency="daily",
    send_time="08:00",
    timezone="UTC",
    weekday=0,
    digest_size=10,
    always_send=False,
    active=True,
    paused_reason=None,
)


class Clock:
    """A clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, list[float]()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def settings(tmp_path: Path, fake: FakeSlack | None = None) -> Settings:
    slack = {"slack_bot_token": "xoxb-test", "slack_api_url": fake.api_url} if fake else {}
    return Settings(data_dir=tmp_path, **slack)  # type: ignore[arg-type]  # pydantic coerces the strs


def poster(fake: FakeSlack, tmp_path: Path, clock: Clock) -> SlackPoster:
    client = make_client(settings(tmp_path, fake), sleep=clock.sleep)
    return SlackPoster(client, pacer=Pacer(sleep=clock.sleep, clock=clock))


def test_a_429_is_waited_out_and_the_message_posted_once(fake_slack: FakeSlack, tmp_path: Path) -> None:
    clock = Clock()
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=7)
    delivery = poster(fake_slack, tmp_path, clock).post_digest(digest([listing(1)], target="C0LAB"))
    calls = fake_slack.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200, 200]  # parent retried once, then the reply
    assert clock.sleeps[0] == 7.0
    assert delivery.ts == calls[1].answer["ts"]
    assert calls[2].body["thread_ts"] == delivery.ts


@pytest.mark.slow  # sleeps a real second
def test_the_real_sleep_honours_retry_after(fake_slack: FakeSlack, tmp_path: Path) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    response = make_client(settings(tmp_path, fake_slack)).chat_postMessage(channel="C0LAB", text="hi")
    assert time.monotonic() - started >= 1.0
    assert response["ok"] and len(fake_slack.calls("chat.postMessage")) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(fake_slack: FakeSlack, tmp_path: Path, status: int) -> None:
    clock = Clock()
    fake_slack.fail_next("chat.postMessage", 2, status=status)
    poster(fake_slack, tmp_path, clock).post_digest(digest([listing(1), listing(2)]))
    assert [c.status for c in fake_slack.calls("chat.postMessage")] == [status, status, 200]
    assert len(clock.sleeps) == 2


def test_server_errors_that_do_not_pass_are_temporary(fake_slack: FakeSlack, tmp_path: Path) -> None:
    fake_slack.fail_next("chat.postMessage", 10, status=500)
    with pytest.raises(TemporaryDeliveryError, match="C0LAB"):
        poster(fake_slack, tmp_path, Clock()).post_digest(digest([listing(1)], target="C0LAB"))


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        ("channel_not_found", "invite @paperbot"),
        ("not_in_channel", "/invite @paperbot"),
        ("is_archived", "unarchive"),
        ("account_inactive", "reinstall paperbot"),
    ],
)
def test_destinations_that_need_an_admin_raise_a_permanent_error(
    fake_slack: FakeSlack, tmp_path: Path, error: str, advice: str
) -> None:
    fake_slack.fail_next("chat.postMessage", error=error)
    with pytest.raises(DeliveryError) as raised:
        poster(fake_slack, tmp_path, Clock()).post_digest(digest([listing(1)], target="C0LAB"))
    assert not isinstance(raised.value, TemporaryDeliveryError)
    assert advice in raised.value.message
    assert len(fake_slack.calls("chat.postMessage")) == 1  # no retry of a permanent error


def test_a_dm_opens_the_conversation_and_posts_there(fake_slack: FakeSlack, tmp_path: Path) -> None:
    delivery = poster(fake_slack, tmp_path, Clock()).post_digest(
        digest([listing(1), listing(2)], target="U0ALICE")
    )
    assert fake_slack.calls("conversations.open")[0].body["users"] == "U0ALICE"
    (post,) = fake_slack.calls("chat.postMessage")
    assert post.body["channel"] == delivery.channel == "D0ALICE"
    assert delivery.messages == ((post.answer["ts"], (100, 101)),)
    assert "Bearer xoxb-test" in post.headers["Authorization"]


def test_posts_to_one_channel_are_a_second_apart_others_are_not_held_up() -> None:
    clock = Clock()
    pacer = Pacer(sleep=clock.sleep, clock=clock)
    for channel in ("C1", "C2", "C1", "C1"):
        pacer.wait(channel)
    assert clock.sleeps == [1.0, 1.0]


def test_a_missing_token_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PAPERBOT_SLACK_BOT_TOKEN"):
        make_client(settings(tmp_path))


def test_deliver_digest_remembers_one_paper_messages_for_reactions(
    bot: Paperbot, fake_slack: FakeSlack
) -> None:
    # A real stored digest of two real papers for a channel subscription (SlackMessage rows refer to it).
    now = datetime.now(UTC)
    profile = bot.subscribe(
        slack_channel_id="C0LAB", interests=["graph neural networks"], schedule=Schedule(digest_size=2)
    )
    sub = profile.subscriptions[0]
    period = latest_period(sub, now=now)
    picks = bot.recommend(subscriber_id=profile.id, limit=2, now=now)
    claim = store.claim(bot.engine, sub.id, period, picks, now=now)
    assert claim is not None
    view = store.digest_view(bot.engine, claim.digest_id, period=period, subscription=sub)
    assert (sub.target, len(view.entries)) == ("C0LAB", 2)
    with Batch(bot, now, lambda _s: None) as batch:
        ts = deliver_digest(view, sub, batch)
    parent, first, second = fake_slack.calls("chat.postMessage")
    assert ts == parent.answer["ts"]
    assert (
        bot.slack_message_item(channel_id="C0LAB", ts=parent.answer["ts"]) is None
    )  # several papers: ambiguous
    assert bot.slack_message_item(channel_id="C0LAB", ts=first.answer["ts"]) == view.entries[0].item_id
    assert bot.slack_message_item(channel_id="C0LAB", ts=second.answer["ts"]) == view.entries[1].item_id


def test_a_digest_posted_by_an_attempt_that_died_is_not_posted_again(
    bot: Paperbot, fake_slack: FakeSlack
) -> None:
    now = datetime.now(UTC)
    profile = bot.subscribe(
        slack_channel_id="C0LAB", interests=["graph neural networks"], schedule=Schedule(digest_size=2)
    )
    sub = profile.subscriptions[0]
    period = latest_period(sub, now=now)
    picks = bot.recommend(subscriber_id=profile.id, limit=2, now=now)
    claim = store.claim(bot.engine, sub.id, period, picks, now=now)
    assert claim is not None
    view = store.digest_view(bot.engine, claim.digest_id, period=period, subscription=sub)
    with Batch(bot, now, lambda _s: None) as batch:
        first = deliver_digest(view, sub, batch)  # posted and recorded; then the process died
    posts = len(fake_slack.calls("chat.postMessage"))
    with Batch(bot, now, lambda _s: None) as batch:
        again = deliver_digest(view, sub, batch)  # the retry of the claim
    assert again == first and len(fake_slack.calls("chat.postMessage")) == posts == 3

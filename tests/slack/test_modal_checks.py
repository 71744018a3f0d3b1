"""What the subscribe modal refuses before its ack (the modal stays open with the field error), what
App Home offers after a delivery moved, one interest per text (also against replayed requests), and
the Slack name in email digests; over real signed HTTP against the fake Web API."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.applications import Starlette

from bot.channels.slack import slack_routes
from bot.service import Paperbot
from tests.factories import make_bot
from tests.slack.fake_slack import TEAM_ID, FakeSlack
from tests.slack.helpers import due_schedule, run_digest_now, serve
from tests.slack.signed import SECRET, SlackSender
from tests.slack.test_commands import modal_values, open_modal
from tests.sources.test_seed_fetch import ArxivServer, arxiv

__all__ = ["arxiv"]  # the fixture, imported for the arXiv lookups


def test_an_unknown_seed_paper_keeps_the_modal_open_and_saves_nothing(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    view = open_modal(slack, fake_slack)
    answer = slack.view_submission(view, modal_values(seeds="my-favourite-paper"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_action"] == "errors"
    assert body["errors"]["seeds"] == "Not found: my-favourite-paper. Give arXiv ids or URLs, or DOIs"
    time.sleep(0.3)  # had the save gone on after an ack, it would have told the user by now
    assert bot.find_subscriber(slack_user_id="U0ALICE") is None
    assert not fake_slack.calls("chat.postEphemeral") and not fake_slack.calls("chat.postMessage")


@pytest.fixture
def slack_with_arxiv(
    bot: Paperbot, fake_slack: FakeSlack, arxiv: ArxivServer
) -> Iterator[tuple[SlackSender, Paperbot]]:
    """The bolt app on the same data, its seed lookups going to the loopback arXiv API and Crossref."""
    looking_up = make_bot(
        bot.settings.data_dir,
        encoder=bot.encoder,
        fetch_timeout=0.5,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake_slack.api_url,
        arxiv_api_url=f"http://127.0.0.1:{arxiv.server_address[1]}/api/query",
        crossref_api_url=f"http://127.0.0.1:{arxiv.server_address[1]}/works",
    )
    with serve(Starlette(routes=slack_routes(looking_up))) as url:
        sender = SlackSender(url + "/slack/events", response_base=fake_slack.base_url)
        yield sender, looking_up
        sender.close()
    looking_up.close()


def test_an_id_arxiv_or_crossref_does_not_know_keeps_the_modal_open_and_a_known_one_is_used(
    slack_with_arxiv: tuple[SlackSender, Paperbot], fake_slack: FakeSlack, arxiv: ArxivServer
) -> None:
    slack, bot = slack_with_arxiv
    view = open_modal(slack, fake_slack)
    unknown = slack.view_submission(view, modal_values(seeds="2409.99999"))
    assert unknown.json()["errors"]["seeds"].startswith("Not found: 2409.99999.")
    assert arxiv.asked == ["/api/query?2409.99999"]  # looked up once, before the ack
    doi = slack.view_submission(view, modal_values(seeds="10.9999/never-published"))
    assert doi.json()["errors"]["seeds"].startswith(
        "seed paper '10.9999/never-published' is not in the database and Crossref does not know that DOI"
    )
    assert bot.find_subscriber(slack_user_id="U0ALICE") is None
    known = slack.view_submission(view, modal_values(interests="", seeds="arXiv:1707.08567"))
    assert (known.status_code, known.text) == (200, "")
    assert "Saved" in fake_slack.wait_for("chat.postEphemeral")[0].body["text"]
    profile = bot.find_subscriber(slack_user_id="U0ALICE")
    assert profile is not None and len(profile.interests) == 1 and profile.interests[0].seed_listing_ids


def test_a_seed_paper_arxiv_cannot_be_asked_about_is_reported_as_not_saved(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    """arXiv unreachable (the tests' arXiv API is a closed port): the quick lookup gives up, the modal
    closes, the save after the ack tries again and fails, and the user learns nothing was saved."""
    view = open_modal(slack, fake_slack)
    assert slack.view_submission(view, modal_values(seeds="2409.99999")).text == ""
    told = fake_slack.wait_for("chat.postEphemeral")[0].body["text"]
    assert told.startswith(":x: Not saved, nothing was changed: could not fetch seed paper '2409.99999'")
    assert bot.find_subscriber(slack_user_id="U0ALICE") is None


def test_an_interest_the_profile_has_keeps_the_modal_open(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    bot.subscribe(slack_user_id="U0ALICE", interests=["Graph neural networks"], schedule=due_schedule())
    slack.command("settings")
    view = fake_slack.wait_for("views.open")[0].body["view"]
    answer = slack.view_submission(view, modal_values(interests="graph  neural networks\nprotein design"))
    assert answer.json() == {
        "response_action": "errors",
        "errors": {"interests": "Already in this profile: 'graph  neural networks'; remove that line"},
    }
    profile = bot.find_subscriber(slack_user_id="U0ALICE")
    assert profile is not None and [i.label for i in profile.interests] == ["Graph neural networks"]


def test_adding_an_interest_twice_says_so_and_adds_one(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    profile = bot.subscribe(slack_user_id="U0ALICE", interests=["graph neural networks"])
    slack.command("interests add protein design")
    assert "Added interest 'protein design'" in fake_slack.wait_for("response")[0].body["text"]
    slack.command("interests add Protein Design")
    said = fake_slack.wait_for("response", 2)[1].body["text"]
    assert said.startswith(":x: the interest 'protein design' is already in this profile (interest ")
    labels = [i.label for i in bot.subscriber(subscriber_id=profile.id).interests]
    assert labels == ["graph neural networks", "protein design"]


def test_a_replayed_signed_request_adds_nothing(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    """The same bytes with the same signature, again within Slack's 5 minutes (as Slack's retries
    or anyone who saw the request could send them): answered 200, acted on once."""
    profile = bot.subscribe(slack_user_id="U0ALICE", interests=["graph neural networks"])
    form = {
        "team_id": TEAM_ID,
        "channel_id": "D0ALICE",
        "user_id": "U0ALICE",
        "command": "/papers",
        "text": "interests add protein design",
        "response_url": f"{fake_slack.base_url}/response/replayed",
        "trigger_id": "trigger-replayed",
    }
    body, timestamp = urlencode(form).encode(), int(time.time())
    first = slack.post(body, "application/x-www-form-urlencoded", timestamp=timestamp)
    assert first.json()["text"].startswith("Adding")
    fake_slack.wait_for("response")
    again = slack.post(
        body, "application/x-www-form-urlencoded", timestamp=timestamp, headers={"X-Slack-Retry-Num": "1"}
    )
    assert (again.status_code, again.text) == (200, "")
    time.sleep(0.5)  # had the replay been acted on, its answer would have arrived by now
    assert len(fake_slack.calls("response")) == 1
    labels = [i.label for i in bot.subscriber(subscriber_id=profile.id).interests]
    assert labels == ["graph neural networks", "protein design"]


def test_app_home_does_not_offer_to_resume_a_replaced_delivery(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    profile = bot.subscribe(slack_user_id="U0ALICE", interests=["graph neural networks"])
    slack.command("settings")
    view = fake_slack.wait_for("views.open")[0].body["view"]
    values = modal_values(interests="", delivery="email", email="alice@example.org")
    assert slack.view_submission(view, values).text == ""
    fake_slack.wait_for("chat.postEphemeral")
    slack.event({"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"})
    buttons = [
        b for b in fake_slack.wait_for("views.publish")[0].body["view"]["blocks"] if b["type"] == "actions"
    ]
    assert [e["action_id"] for e in buttons[-1]["elements"]] == ["home:edit", "home:pause"]
    slack.home_click({"action_id": "home:pause"})
    fake_slack.wait_for("views.publish", 2)
    slack.home_click({"action_id": "home:resume"})
    fake_slack.wait_for("views.publish", 3)
    dm, mail = bot.subscriber(subscriber_id=profile.id).subscriptions
    assert (dm.active, dm.paused_reason) == (False, "replaced by delivery to alice@example.org")
    assert (mail.target, mail.active) == ("alice@example.org", True)
    assert "(active)" in slack.command("resume").json()["text"]
    assert not bot.subscriber(subscriber_id=profile.id).subscriptions[0].active


def test_email_digests_to_a_slack_subscriber_carry_their_slack_name(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot, tmp_path: Path
) -> None:
    view = open_modal(slack, fake_slack)
    now = due_schedule()
    values = modal_values(
        delivery="email", email="alice@example.org", time=now.send_time, timezone="UTC", frequency="daily"
    )
    assert slack.view_submission(view, values).text == ""
    fake_slack.wait_for("chat.postEphemeral")
    profile = bot.find_subscriber(slack_user_id="U0ALICE")
    assert profile is not None and profile.name == "Alice Liddell"
    result = run_digest_now(bot, profile.subscriptions[0].id)
    assert result.status == "sent", result
    (eml,) = (bot.settings.data_dir / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes())
    assert message["To"] == "Alice Liddell <alice@example.org>"
    assert "U0ALICE" not in eml.read_text()

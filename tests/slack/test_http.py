"""/slack/events as HTTP: what unauthenticated requests get, and a real `paperbot serve` that keeps
logging after Slack has talked to it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from tests.slack.fake_slack import FakeSlack
from tests.slack.signed import SECRET, SlackSender
from tests.test_serve import Served, processes, wait_until

__all__ = ["processes"]  # the fixture, imported for the serve test

MALFORMED = {
    "bad payload JSON": (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
    "truncated JSON": (b'{"type": "event_callback", "event": {', "application/json"),
    "a JSON list": (b'[{"type": "event_callback"}]', "application/json"),
    "not UTF-8": (b"\xff\xfe\xfa", "application/json"),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_unsigned_malformed_bodies_get_401_and_one_log_line(
    slack: SlackSender, body: tuple[bytes, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="paperbot")
    answer = slack.post(*body, signed=False)
    assert answer.status_code == 401 and "Traceback" not in answer.text
    refusals = [r for r in caplog.records if r.name.startswith("paperbot")]
    assert [r.getMessage() for r in refusals] == [
        "slack: refused a request from 127.0.0.1 without a valid, fresh signature (401)"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("timestamp", ["yesterday", "", "1e9", "-5"])
def test_a_timestamp_that_is_not_a_number_gets_401(slack: SlackSender, timestamp: str) -> None:
    body = b"command=%2Fpapers&text=help&user_id=U0ALICE"
    answer = slack.post(
        body,
        "application/x-www-form-urlencoded",
        signed=False,
        headers={"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + "0" * 64},
    )
    assert answer.status_code == 401


def test_a_signed_but_unreadable_body_gets_400(slack: SlackSender) -> None:
    assert slack.post(b"payload=%7Bnot-json", "application/x-www-form-urlencoded").status_code == 400


@pytest.mark.slow  # a real paperbot serve process
def test_serve_keeps_logging_info_lines_after_a_slack_request(
    tmp_path: Path, fake_slack: FakeSlack, processes: list[Served]
) -> None:
    """bolt used to reset the `paperbot` logger's level on every request: after the first one, no
    INFO line (jobs, votes, "digest sent", shutdown) was logged again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_") and k != "DATABASE_URL"}
    env |= {
        "PAPERBOT_DATA_DIR": str(tmp_path / "data"),
        "PAPERBOT_SLACK_BOT_TOKEN": "xoxb-test",
        "PAPERBOT_SLACK_SIGNING_SECRET": SECRET,
        "PAPERBOT_SLACK_API_URL": fake_slack.api_url,
        "PAPERBOT_SCHEDULER_SWEEP_SECONDS": "3600",
    }
    served = Served("serve", tmp_path, env)
    processes.append(served)
    wait_until(lambda: "scheduler leader" in served.output(), "the scheduler to lead", 20, served)
    sender = SlackSender(f"http://127.0.0.1:{served.port}/slack/events", response_base=fake_slack.base_url)
    reaction = {"type": "reaction_added", "user": "U0ALICE", "reaction": "+1", "item": {}}
    try:
        answer = sender.command("help")
        before = len(served.output())
        assert sender.event(reaction, event_id="Ev0TWICE").status_code == 200
        assert sender.event(reaction, event_id="Ev0TWICE", retry=1).status_code == 200
    finally:
        sender.close()
    assert answer.status_code == 200 and "/papers subscribe" in answer.json()["text"]
    line = "INFO paperbot.slack: slack: event Ev0TWICE already handled; ignoring the retry"
    wait_until(lambda: line in served.output()[before:], "the INFO line about the retry", 10, served)
    assert served.stop() == 0
    assert "INFO paperbot.scheduler: scheduler stopped" in served.output()[before:]

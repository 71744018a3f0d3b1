"""The app's wiring: configuration errors, and a manifest that matches what the app listens to."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml  # installed with transformers; only this test reads YAML
from slack_sdk import WebClient

from bot.channels.slack import EVENTS_PATH, connect_socket_mode, create_slack_app
from bot.channels.slack.events import REACTIONS
from bot.errors import ConfigError
from bot.service import Paperbot
from tests.factories import make_bot
from tests.slack.fake_slack import FakeSlack

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yaml"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "slack.md"


def test_http_mode_needs_the_signing_secret(tmp_path: Path, fake_slack: FakeSlack) -> None:
    bot = make_bot(tmp_path / "data", slack_bot_token="xoxb-test", slack_api_url=fake_slack.api_url)
    try:
        with pytest.raises(ConfigError, match="PAPERBOT_SLACK_SIGNING_SECRET"):
            create_slack_app(bot)
        with pytest.raises(ConfigError, match="PAPERBOT_SLACK_APP_TOKEN"):
            connect_socket_mode(bot)
    finally:
        bot.close()


def test_the_app_checks_its_token_once_at_start(bot: Paperbot, fake_slack: FakeSlack) -> None:
    create_slack_app(bot)
    (call,) = fake_slack.calls("auth.test")
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    fake_slack.fail_next("auth.test", error="invalid_auth")
    with pytest.raises(ConfigError, match="Slack refused PAPERBOT_SLACK_BOT_TOKEN"):
        create_slack_app(bot)


def test_an_unreachable_slack_does_not_stop_the_start(tmp_path: Path) -> None:
    with FakeSlack() as gone:
        url = gone.api_url
    bot = make_bot(
        tmp_path / "data", slack_bot_token="xoxb-test", slack_signing_secret="s", slack_api_url=url
    )
    try:
        assert create_slack_app(bot, client=WebClient(token="xoxb-test", base_url=url, retry_handlers=[]))
    finally:
        bot.close()


def test_the_manifest_matches_the_app() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    settings, features = manifest["settings"], manifest["features"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in features["slash_commands"]),
    ]
    assert all(url == f"https://YOUR-HOST{EVENTS_PATH}" for url in urls)
    assert [c["command"] for c in features["slash_commands"]] == ["/papers"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == [
        "app_home_opened",
        "reaction_added",
        "reaction_removed",
    ]
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "chat:write",
        "commands",
        "im:write",
        "reactions:read",
        "users:read",
    ]
    assert features["app_home"]["home_tab_enabled"] is True


def test_the_docs_list_every_reaction_and_scope() -> None:
    docs = DOCS.read_text()
    for name in REACTIONS:
        assert f"`:{name}:`" in docs
    for scope in yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"]:
        assert f"`{scope}`" in docs

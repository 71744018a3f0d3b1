"""Slack fixtures: the fake Web API, a bot on a copy of one ingested sample database, and the real bolt
app served by uvicorn on a loopback port chosen at run time."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from bot.channels.slack import slack_routes
from bot.service import Paperbot, sample_feed_path
from bot.vectors.embed import Encoder
from tests.factories import make_bot
from tests.slack.fake_slack import FakeSlack
from tests.slack.helpers import serve
from tests.slack.signed import SECRET, SlackSender


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return Encoder()  # the real bundled model, loaded once for the whole run


@pytest.fixture(scope="session")
def prepared_data(tmp_path_factory: pytest.TempPathFactory, cached_encoder: Encoder) -> Path:
    """One ingest of the bundled sample (321 real papers, embedded once per run); each test works on
    a copy."""
    data = tmp_path_factory.mktemp("slack-prepared") / "data"
    bot = make_bot(data, encoder=cached_encoder)
    bot.ingest(sources=[str(sample_feed_path())])
    bot.close()
    return data


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def bot(prepared_data: Path, tmp_path: Path, encoder: Encoder, fake_slack: FakeSlack) -> Iterator[Paperbot]:
    data = tmp_path / "data"
    shutil.copytree(prepared_data, data)
    paperbot = make_bot(
        data,
        encoder=encoder,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake_slack.api_url,
    )
    yield paperbot
    paperbot.close()


@pytest.fixture
def slack(bot: Paperbot, fake_slack: FakeSlack) -> Iterator[SlackSender]:
    """The real bolt app (signature checks on) behind uvicorn, and a client that signs for real."""
    with serve(Starlette(routes=slack_routes(bot))) as url:
        sender = SlackSender(url + "/slack/events", response_base=fake_slack.base_url)
        yield sender
        sender.close()

"""Fixtures for the reliability tests: the Slack ones are the suite's own (imported, not copied), plus a
bot on a copy of the ingested sample that mails through a real loopback SMTP server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.embed import Encoder
from bot.service import Paperbot
from tests.factories import make_bot
from tests.slack.conftest import bot, fake_slack, prepared_data, slack
from tests.smtp import SmtpServer

__all__ = ["bot", "fake_slack", "prepared_data", "slack", "smtp", "mail_bot"]

SECRET_KEY = "reliability-signing-key-" + "x" * 32


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def mail_bot(sample_template: Path, tmp_path: Path, encoder: Encoder, smtp: SmtpServer) -> Iterator[Paperbot]:
    """A Paperbot on a private copy of the ingested sample that delivers to `smtp`."""
    data_dir = tmp_path / "mail-data"
    shutil.copytree(sample_template, data_dir)
    paperbot = make_bot(data_dir, encoder=encoder, secret_key=SECRET_KEY, **smtp.settings())
    yield paperbot
    paperbot.close()

"""Fixtures for the reliability tests: the Slack ones are the suite's own (imported, not copied) on the
suite's ingested sample, plus a bot on a copy of that sample that mails through a loopback SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.service import Paperbot
from bot.vectors.embed import Encoder
from tests.factories import make_bot
from tests.slack.conftest import bot, fake_slack, slack
from tests.smtp import SmtpServer

__all__ = ["bot", "fake_slack", "prepared_data", "slack", "mail_bot"]

SECRET_KEY = "reliability-signing-key-" + "x" * 32
SMALL_FEEDS = (  # three small real feeds, for tests that need papers but no ranking
    "arxiv_rss_new_cs.LG_2026-04-27_trimmed.xml",
    "arxiv_rss_new_cs.AI_2026-04-27_trimmed.xml",
    "bmc_bioinformatics_rss2_2025-04-13.xml",
)


@pytest.fixture(scope="session")
def prepared_data(sample_template: Path) -> Path:
    """What the Slack fixtures copy for each test: the suite's ingested sample, not a second ingest."""
    return sample_template


@pytest.fixture
def mail_bot(sample_bot: Paperbot, encoder: Encoder, smtp: SmtpServer) -> Iterator[Paperbot]:
    """The suite's `sample_bot` data (a private copy of the ingested sample), delivering to `smtp`."""
    data_dir = sample_bot.settings.data_dir
    paperbot = make_bot(data_dir, encoder=encoder, secret_key=SECRET_KEY, **smtp.settings())
    yield paperbot
    paperbot.close()

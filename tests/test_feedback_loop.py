"""The feedback loop on the real model, real ranking and real sample papers: a 👍 clicked in Monday's
mail (POSTed to the web app) changes Tuesday's digest. Uses the session-wide sample from conftest."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.channels.email.links import Links
from bot.digests.run import run_digest, run_due
from bot.inputs import Schedule
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.digest.world import CLICKED, MONDAY, client_for, links_by_label, state
from tests.factories import make_bot
from tests.smtp import SmtpServer


@pytest.mark.slow
def test_a_vote_from_the_mail_changes_the_next_digest(
    sample_template: Path, encoder: Encoder, tmp_path: Path, smtp: SmtpServer
) -> None:
    """Real model, real ranking, real sample papers: 👍 in Monday's mail reshapes Tuesday's digest."""
    data_dir = tmp_path / "data"
    shutil.copytree(sample_template, data_dir)
    bot = make_bot(data_dir, encoder=encoder, **smtp.settings())
    tuesday = MONDAY + timedelta(days=1)
    sub = bot.subscribe(
        email="ada@example.org", interests=["equivariant neural networks"], schedule=Schedule(digest_size=5)
    )
    try:
        arrive(bot, odd=MONDAY - timedelta(hours=2), even=MONDAY - timedelta(days=30))  # Monday's papers
        assert [r.status for r in run_due(bot, now=MONDAY)] == ["sent"]
        arrive(bot, even=MONDAY + timedelta(hours=10))  # the rest comes in on Monday evening
        preview = run_digest(bot, subscription_id=sub.subscriptions[0].id, now=tuesday, dry_run=True)
        planned = titles(Path(preview.location or "").read_bytes())

        html = smtp.received[0].message.get_body(("html",))
        assert html is not None
        # The last paper: a 👍 on the first, the closest to the interest, lifts papers that are in the
        # next digest already, and it stays as it was; the last one's neighbours are not in it yet.
        liked = links_by_label(str(html.get_content()))["👍 More like this"][-1]
        assert "recorded" in client_for(bot).post(liked).text
        assert state(bot)["feedback"] == [(sub.id, listing_of(bot, liked), "up", "email")]

        assert [r.status for r in run_due(bot, now=tuesday)] == ["sent"]
        sent = titles(smtp.received[1].data)
        assert planned and sent and sent != planned
        assert len(sent) == len(planned)  # the 👍 brought a paper in, and pushed none off the bar
    finally:
        bot.close()


def arrive(bot: Paperbot, *, odd: datetime | None = None, even: datetime | None = None) -> None:
    """Set when the sample's papers were first seen: odd and even listing ids separately."""
    with session_scope(bot.engine) as session:
        for parity, when in ((1, odd), (0, even)):
            if when is not None:
                query = update(models.Listing).where(col(models.Listing.id) % 2 == parity)
                session.connection().execute(query.values(first_seen=when))


def titles(eml: bytes) -> list[str]:
    message = message_from_bytes(eml, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(("plain",))
    assert text is not None
    return re.findall(r"^\d+\. (.+)$", str(text.get_content()).replace("\r\n", "\n"), flags=re.M)


def listing_of(bot: Paperbot, feedback_url: str) -> int:
    item_id = (
        Links.from_settings(bot.settings)
        .read_feedback(feedback_url.rsplit("/", 1)[1].split("?")[0], now=CLICKED)
        .item_id
    )
    with session_scope(bot.engine) as session:
        item = session.get(models.DigestItem, item_id)
        assert item is not None
        return item.listing_id

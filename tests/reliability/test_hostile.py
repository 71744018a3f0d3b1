"""Hostile input: replayed Slack requests, feeds that try to ping channels or carry script links or
megabyte abstracts, private source URLs, tampered email tokens, SQL metacharacters everywhere.

Covered elsewhere and not repeated here: unsigned, stale and wrongly signed requests
(tests/slack/test_commands.py::test_unsigned_stale_or_wrongly_signed_requests_get_401_and_change_nothing),
a 10 KB command and control characters in commands and modal interests
(tests/slack/test_commands.py::test_hostile_input_gets_a_clear_ephemeral_error and
::test_modal_errors_come_back_in_the_ack_and_nothing_is_saved).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlmodel import col, func, select
from starlette.testclient import TestClient

from bot.channels.email.links import Links
from bot.errors import InvalidInput
from bot.ingest.sources import check_public_url, parse
from bot.ingest.sources._common import MAX_ABSTRACT
from bot.server.web import create_app
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.conftest import REPO
from tests.factories import make_bot
from tests.slack.fake_slack import TEAM_ID, FakeSlack
from tests.slack.helpers import due_schedule, run_digest_now
from tests.slack.signed import SlackSender
from tests.smtp import SmtpServer

FEED = "bmc_bioinformatics_rss2_2025-04-13.xml"
PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<https://evil.example|click>")
SCRIPT_URLS = ("javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)")


# ---- Slack requests ---------------------------------------------------------------------------------


def test_a_captured_request_replayed_after_its_timestamp_expires_gets_401(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    form = {
        "team_id": TEAM_ID,
        "channel_id": "D0ALICE",
        "user_id": "U0ALICE",
        "command": "/papers",
        "text": "subscribe",
        "response_url": f"{fake_slack.base_url}/response/replay",
        "trigger_id": "trigger-replay",
    }
    body = urlencode(form).encode()
    captured = int(time.time()) - 299  # valid for one more second
    first = slack.post(body, "application/x-www-form-urlencoded", timestamp=captured)
    assert first.status_code == 200
    fake_slack.wait_for("views.open")
    time.sleep(2.1)  # now more than 300 s old
    replayed = slack.post(body, "application/x-www-form-urlencoded", timestamp=captured)
    assert replayed.status_code == 401
    time.sleep(0.3)
    assert len(fake_slack.calls("views.open")) == 1
    assert bot.find_subscriber(slack_user_id="U0ALICE") is None


def test_interest_text_loses_invisible_and_bidi_characters(mail_bot: Paperbot) -> None:
    ada = mail_bot.subscribe(email="ada@example.org", interests=["graph\u202e neural\u200b networks\x00"])
    assert [i.text for i in ada.interests] == ["graph neural networks"]
    with pytest.raises(InvalidInput, match="some text"):
        mail_bot.add_interest(subscriber_id=ada.id, text="\u202e\u2066\u200b")


# ---- feed content -----------------------------------------------------------------------------------


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hostile_feed(feeds_dir: Path, target: Path) -> Path:
    """The real BMC Bioinformatics feed with Slack pings in every title and abstract, script links,
    and one abstract of a megabyte."""
    text = (feeds_dir / FEED).read_text(encoding="utf-8")
    items = text.split("<item>")
    for n in range(1, len(items)):
        ping = _xml(PINGS[n % len(PINGS)])
        items[n] = items[n].replace("<title>", f"<title>{ping} ", 1)
        items[n] = items[n].replace("<description>", f"<description>{ping} ", 1)
        link_start, link_end = items[n].index("<link>") + 6, items[n].index("</link>")
        items[n] = items[n][:link_start] + _xml(SCRIPT_URLS[n % 3]) + items[n][link_end:]
    items[1] = items[1].replace("<description>", "<description>" + "A" * 1_000_000 + " ", 1)
    target.write_text("<item>".join(items), encoding="utf-8")
    return target


def _hostile_bot(
    sample: Path, tmp_path: Path, feeds_dir: Path, encoder: Encoder, **settings: Any
) -> Paperbot:
    """The ingested sample (the background ranking needs) plus today's hostile feed."""
    shutil.copytree(sample, tmp_path / "hostile")
    bot = make_bot(tmp_path / "hostile", encoder=encoder, secret_key="k" * 40, **settings)
    report = bot.ingest(sources=[str(hostile_feed(feeds_dir, tmp_path / "hostile.xml"))])
    assert report.totals["new"] >= 5 and report.totals["failed"] == 0
    return bot


def _interests(feeds_dir: Path) -> list[str]:
    """The papers' own (clean) titles: interests every hostile paper matches well."""
    return [paper.title for paper in parse((feeds_dir / FEED).read_bytes())]


def _assert_clean(rendered: str) -> None:
    for ping in PINGS:
        assert ping not in rendered
    for url in SCRIPT_URLS:
        assert url.split(":")[0] + ":" not in rendered


def test_feeds_cannot_ping_or_link_scripts_in_slack_digests(
    sample_template: Path, tmp_path: Path, feeds_dir: Path, encoder: Encoder, fake_slack: FakeSlack
) -> None:
    slack_settings = {"slack_bot_token": "xoxb-test", "slack_api_url": fake_slack.api_url}
    bot = _hostile_bot(sample_template, tmp_path, feeds_dir, encoder, **slack_settings)
    alice = bot.subscribe(
        slack_user_id="U0ALICE", interests=_interests(feeds_dir), schedule=due_schedule(size=10)
    )
    result = run_digest_now(bot, alice.subscriptions[0].id)
    assert result.status == "sent" and result.items >= 3, result
    posted = json.dumps([c.body for c in fake_slack.calls("chat.postMessage")], ensure_ascii=False)
    _assert_clean(posted)
    assert "&lt;!here&gt;" in posted and "&lt;!channel&gt;" in posted  # shown, harmlessly
    assert "A" * 1000 not in posted
    bot.close()


def test_feeds_cannot_link_scripts_in_email_and_huge_abstracts_are_cut(
    sample_template: Path, tmp_path: Path, feeds_dir: Path, encoder: Encoder, smtp: SmtpServer
) -> None:
    bot = _hostile_bot(sample_template, tmp_path, feeds_dir, encoder, **smtp.settings())
    with session_scope(bot.engine) as session:
        rows = session.exec(select(models.Listing).where(col(models.Listing.title).startswith("<"))).all()
        assert len(rows) >= 5 and all(row.abs_url is None and row.pdf_url is None for row in rows)
        longest = max(len(row.abstract) for row in rows)
    assert 10_000 < longest <= MAX_ABSTRACT
    ada = bot.subscribe(
        email="ada@example.org", interests=_interests(feeds_dir), schedule=due_schedule(size=10)
    )
    assert run_digest_now(bot, ada.subscriptions[0].id).status == "sent"
    message = smtp.received[0].message
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html, text = str(html_part.get_content()), str(text_part.get_content())
    for url in SCRIPT_URLS:
        assert url.split(":")[0] + ":" not in html.lower() and url not in text
    assert "<!here>" not in html and "&lt;!here&gt;" in html
    assert "A" * 400 not in html and "A" * 400 not in text and len(smtp.received[0].data) < 200_000
    bot.close()


# ---- source URLs ------------------------------------------------------------------------------------

INSIDE = {"intranet.example": ["10.1.2.3"], "sneaky.example": ["93.184.216.34", "192.168.0.9"]}


def _resolve(host: str) -> list[str]:
    return INSIDE.get(host, ["93.184.216.34"])  # literal answers: no DNS in tests


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://127.8.0.1:8080/feed",
        "http://10.0.0.7/feed",
        "http://172.16.4.1/feed",
        "http://192.168.1.1/rss",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://[fd00::1]/feed",
        "http://0.0.0.0/feed",
        "http://intranet.example/feed",
        "https://sneaky.example/feed",  # one public and one private address is still inside
        "file:///etc/passwd",
        "gopher://example.org/",
    ],
)
def test_private_and_loopback_source_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_public_url(url, resolve=_resolve)


def test_public_source_urls_pass() -> None:
    for url in ("https://rss.arxiv.org/rss/cs.LG", "http://93.184.216.34/feed", "https://[2606:4700::1]/x"):
        assert check_public_url(url, resolve=_resolve) == url


def test_only_the_operator_adds_sources_and_private_urls_are_their_choice(tmp_path: Path) -> None:
    """The README said private and loopback URLs were refused, yet nothing called the check: the
    README now says what the code does, and this holds both to it."""
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "A loopback or private URL there is the operator's choice" in readme
    assert "are refused by `bot.ingest.sources.check_public_url`" not in readme
    shared_front_ends = [*(REPO / "bot" / "channels").rglob("*.py"), *(REPO / "bot" / "server").rglob("*.py")]
    assert [p.name for p in shared_front_ends if "add_source" in p.read_text()] == []
    bot = make_bot(tmp_path / "data")
    try:
        assert bot.add_source(spec="http://127.0.0.1:8080/feed.xml").enabled
    finally:
        bot.close()


# ---- email tokens -----------------------------------------------------------------------------------


def _state(bot: Paperbot) -> tuple[int, int]:
    with session_scope(bot.engine) as session:
        votes = session.exec(select(func.count()).select_from(models.Feedback)).one()
        active = session.exec(
            select(func.count()).select_from(models.Subscription).where(models.Subscription.active)
        ).one()
    return int(votes), int(active)


def _mutations(token: str) -> Iterator[str]:
    for i in range(len(token)):  # one character changed, everywhere
        yield token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    for cut in (1, 2, 5, len(token) // 2, len(token) - 1):  # truncated
        yield token[:-cut]
    yield token + "x"
    yield token.replace(".", "", 1)


def test_tampered_email_tokens_get_4xx_never_500_and_change_nothing(mail_bot: Paperbot) -> None:
    papers = [paper.title for paper in mail_bot.listings(limit=2)]
    ada = mail_bot.subscribe(email="ada@example.org", interests=papers, schedule=due_schedule())
    assert run_digest_now(mail_bot, ada.subscriptions[0].id).status == "sent"
    with session_scope(mail_bot.engine) as session:
        item_id = session.exec(select(models.DigestItem.id)).first()
    assert item_id is not None
    links = Links.from_settings(mail_bot.settings)
    other = Links(["some-other-key-" + "y" * 30], base_url="http://localhost:8000")
    now = models.utcnow()
    subscription_id = ada.subscriptions[0].id
    valid = {
        "feedback": links.feedback_token(item_id=item_id, now=now),
        "unsubscribe": links.unsubscribe_token(subscription_id=subscription_id, now=now),
        "manage": links.manage_token(subscription_id=subscription_id, now=now),
    }
    readers: dict[str, Any] = {
        "feedback": links.read_feedback,
        "unsubscribe": links.read_unsubscribe,
        "manage": links.read_manage,
    }
    client = TestClient(create_app(mail_bot), raise_server_exceptions=False)
    before = _state(mail_bot)
    bad: list[tuple[str, str]] = []
    for purpose, token in valid.items():
        for wrong in valid:  # a token made for another purpose (another salt)
            if wrong != purpose:
                bad.append((wrong, token))
        bad.append(
            (
                purpose,
                other.dumps(purpose, [item_id] if purpose == "feedback" else [subscription_id], now=now),
            )
        )
        for mutated in _mutations(token):
            try:
                readers[purpose](mutated, now=now)
            except Exception:  # noqa: BLE001 - refused, as it should be
                bad.append((purpose, mutated))
    assert len(bad) > 150
    for purpose, token in bad:
        for method in ("GET", "POST"):
            page = client.request(method, f"/email/{purpose}/{token}?vote=up")
            assert page.status_code in (400, 404, 410), (purpose, token, page.status_code)
            assert "Traceback" not in page.text
    assert _state(mail_bot) == before
    late = TestClient(create_app(mail_bot, clock=lambda: now + timedelta(days=400)))
    assert late.post(f"/email/feedback/{valid['feedback']}?vote=up").status_code == 410
    assert _state(mail_bot) == before


# ---- SQL metacharacters -----------------------------------------------------------------------------

NASTY = "Robert'); DROP TABLE listing;-- \" % _ \\ ; /* */ ' OR '1'='1"


def test_sql_metacharacters_in_every_text_field_round_trip(
    tmp_path: Path, database_url: str, encoder: Encoder
) -> None:
    bot = make_bot(tmp_path / "data", database_url, encoder=encoder)
    feed = tmp_path / "nasty.rss"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
        f"<item><title>{_xml(NASTY)} title</title><link>https://example.org/p?id=1&amp;q='x'</link>"
        f"<guid>{_xml(NASTY)}</guid><description>{_xml(NASTY)} abstract</description></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    assert bot.ingest(sources=[str(feed)]).totals["new"] == 1
    listing = bot.listings()[0]
    assert (listing.title, listing.abstract) == (f"{NASTY} title", f"{NASTY} abstract")
    source_url = "https://example.org/feed?q=' OR 1=1;--&x=%27"
    assert bot.add_source(spec=source_url).url == source_url
    assert source_url in bot.configured_sources()
    person = bot.subscribe(email="o'brien@example.org", name=NASTY, interests=[NASTY])
    assert (person.name, person.email, [i.text for i in person.interests]) == (
        NASTY,
        "o'brien@example.org",
        [NASTY],
    )
    slack_id = "U0'; DROP TABLE subscriber;--"
    channel = bot.subscribe(slack_channel_id="C0'--", slack_team_id="T'1", name=NASTY, interests=["x"])
    user = bot.subscribe(slack_user_id=slack_id, interests=[f"{NASTY} %"])
    found = bot.find_subscriber(slack_user_id=slack_id)
    assert found is not None and found.id == user.id and found.interests[0].text == f"{NASTY} %"
    assert bot.find_subscriber(slack_channel_id="C0'--") == channel
    assert bot.find_subscriber(slack_user_id="U0%") is None  # LIKE wildcards are not wildcards
    assert bot.count_listings() == 1
    bot.close()

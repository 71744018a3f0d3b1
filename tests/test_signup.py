"""The public sign-up page (PAPERBOT_PUBLIC_SUBSCRIBE), served by uvicorn on a loopback port and driven
over HTTP, with its confirmation mails going through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from bot.channels.email.links import MAX_AGE, Links
from bot.channels.email.signup import PER_ADDRESS, PER_IP
from bot.digests.run import run_due
from bot.server.web import create_app
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.digest.world import CLICKED, links_by_label, make_world
from tests.factories import make_bot
from tests.served import served_app
from tests.smtp import SmtpServer

KEY = "test-signing-key-" + "x" * 32
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """The app's clock, moved by the test (token expiry, rate-limit windows)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def served(bot: Paperbot, clock: Clock) -> Iterator[str]:
    with served_app(create_app(bot, clock=clock)) as base:
        yield base


@pytest.fixture
def clock() -> Clock:
    return Clock(CLICKED)


@pytest.fixture
def site(tmp_path: Path, smtp: SmtpServer, clock: Clock) -> Iterator[tuple[Paperbot, httpx.Client]]:
    """A paperbot with the sign-up page on, no model loaded (nothing here is confirmed)."""
    bot = make_bot(tmp_path / "data", secret_key=KEY, public_subscribe=True, **smtp.settings())
    with served(bot, clock) as base, httpx.Client(base_url=base) as http:
        yield bot, http
    bot.close()


def sign_up(http: httpx.Client, email: str, interests: str, **extra: str) -> httpx.Response:
    """Open the form (its cookie and CSRF token) and send it, as a browser would."""
    form = http.get("/subscribe")
    assert form.status_code == 200
    return http.post(
        "/subscribe", data={"csrf": csrf_of(form), "email": email, "interests": interests, **extra}
    )


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def confirm_link(smtp: SmtpServer, n: int = -1) -> str:
    html = smtp.received[n].message.get_body(("html",))
    assert html is not None
    (link,) = links_by_label(str(html.get_content()))["Confirm my subscription"]
    return link


def stored(bot: Paperbot) -> tuple[int, int, int]:
    """(subscribers, subscriptions, interests) in the database."""
    with session_scope(bot.engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(table)).one()
            for table in (models.Subscriber, models.Subscription, models.Interest)
        )


def test_the_page_is_a_404_when_the_setting_is_off(tmp_path: Path, clock: Clock) -> None:
    bot = make_bot(tmp_path / "data", secret_key=KEY)
    assert bot.settings.public_subscribe is False  # the default
    token = Links([KEY], base_url="http://x").confirm_token(
        email="a@example.org", interests=["x"], now=CLICKED
    )
    with served(bot, clock) as base, httpx.Client(base_url=base) as http:
        for method, path in [
            ("GET", "/subscribe"),
            ("POST", "/subscribe"),
            ("GET", "/subscribe/sent"),
            ("GET", f"/subscribe/confirm/{token}"),
            ("POST", f"/subscribe/confirm/{token}"),
        ]:
            answer = http.request(method, path)
            assert answer.status_code == 404, (method, path)
            assert "There is no page at this address" in answer.text
    assert stored(bot) == (0, 0, 0)
    bot.close()


@pytest.fixture
def world(
    tmp_path: Path, database_url: str, smtp: SmtpServer, clock: Clock, cached_encoder: Encoder
) -> Iterator[tuple[Paperbot, httpx.Client]]:
    """The same with the real model, for what a confirmation stores and embeds (SQLite, PostgreSQL)."""
    bot = make_world(
        tmp_path / "data", database_url, encoder=cached_encoder, public_subscribe=True, **smtp.settings()
    )
    with served(bot, clock) as base, httpx.Client(base_url=base) as http:
        yield bot, http
    bot.close()


def test_a_sign_up_is_stored_only_when_the_mailed_link_is_confirmed(
    world: tuple[Paperbot, httpx.Client], smtp: SmtpServer
) -> None:
    bot, http = world
    sent = sign_up(http, " grace@example.org ", "graph neural networks for molecules\n\n protein design \n")
    assert sent.status_code == 303 and sent.headers["location"] == "/subscribe/sent"
    assert "Check your inbox" in http.get("/subscribe/sent").text
    (mail,) = smtp.received
    assert mail.rcpt_tos == ("grace@example.org",)
    assert mail.message["Subject"] == "Confirm your paperbot subscription"
    text = mail.message.get_body(("plain",))
    assert text is not None and "protein design" in text.get_content()
    link = confirm_link(smtp)
    assert link.startswith("http://localhost:8000/subscribe/confirm/")  # PAPERBOT_BASE_URL
    path = link.removeprefix("http://localhost:8000")

    # Double opt-in: nothing stored, nothing sent, until the link is used; GET only shows it.
    assert stored(bot) == (0, 0, 0) and run_due(bot, now=CLICKED + timedelta(days=1)) == []
    shown = http.get(path)
    assert shown.status_code == 200 and "grace@example.org" in shown.text
    assert "graph neural networks for molecules; protein design" in shown.text
    assert stored(bot) == (0, 0, 0)

    confirmed = http.post(path)
    assert confirmed.status_code == 303
    manage = confirmed.headers["location"]
    assert manage.startswith("/email/manage/") and manage.endswith("?done=confirmed")
    settings = http.get(manage)
    assert settings.status_code == 200 and "You are subscribed" in settings.text
    assert 'value="protein design"' in settings.text
    view = bot.find_subscriber(email="grace@example.org")
    assert view is not None and [i.text for i in view.interests] == [
        "graph neural networks for molecules",
        "protein design",
    ]
    (subscription,) = view.subscriptions
    assert (
        subscription.active and subscription.channel == "email" and subscription.target == "grace@example.org"
    )
    # The interests were stored without vectors and embedded after the answer, by a background task.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with session_scope(bot.engine) as session:
            vectors = session.exec(select(models.Interest.vector_model)).all()
        if vectors == [bot.settings.model] * 2:
            break
        time.sleep(0.05)
    assert vectors == [bot.settings.model] * 2

    again = http.post(path)  # confirming twice is harmless: the settings page, nothing added
    assert again.status_code == 303 and again.headers["location"].endswith("?done=already_confirmed")
    assert "already confirmed" in http.get(again.headers["location"]).text
    assert stored(bot) == (1, 1, 2)


def test_bad_input_gets_its_error_next_to_the_field_and_sends_nothing(
    site: tuple[Paperbot, httpx.Client], smtp: SmtpServer
) -> None:
    bot, http = site
    both = sign_up(http, "not-an-address", "   ")
    assert both.status_code == 400
    assert re.search(r'id="email-error"[^>]*>&#39;not-an-address&#39; is not an email address<', both.text)
    assert 'id="interests-error"' in both.text and "write at least one interest" in both.text
    assert 'value="not-an-address"' in both.text  # what was typed stays in the form
    too_many = sign_up(http, "a@example.org", "\n".join(f"topic {n}" for n in range(6)))
    assert too_many.status_code == 400 and "6 interests: give at most 5 here" in too_many.text
    too_long = sign_up(http, "a@example.org", "x" * 1001)
    assert too_long.status_code == 400 and "keep it under 1,000" in too_long.text
    invisible = sign_up(http, "a@example.org", "\u200b\u202e")
    assert invisible.status_code == 400 and "an interest needs some text" in invisible.text  # as the CLI says
    assert 'id="email-error"' not in invisible.text
    huge = sign_up(http, "a@example.org", "y" * 20_000)
    assert huge.status_code == 400 and "This form is too large" in huge.text
    assert smtp.received == [] and stored(bot) == (0, 0, 0)


def test_a_form_without_a_valid_csrf_token_sends_nothing(
    site: tuple[Paperbot, httpx.Client], smtp: SmtpServer, clock: Clock
) -> None:
    bot, http = site
    form = http.get("/subscribe")
    cookie = form.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/subscribe" in cookie
    fields = {"email": "a@example.org", "interests": "protein design"}
    assert http.post("/subscribe", data={"csrf": csrf_of(form), **fields}).status_code == 303
    replayed = http.post("/subscribe", data={"csrf": csrf_of(form), **fields})
    assert replayed.status_code == 410 and "already sent" in replayed.text
    assert http.post("/subscribe", data=fields).status_code == 400  # no token
    assert http.post("/subscribe", data={"csrf": csrf_of(form)[:-2] + "AA", **fields}).status_code == 400
    with httpx.Client(base_url=str(http.base_url)) as other:  # another browser: its own cookie
        token = csrf_of(other.get("/subscribe"))
    assert http.post("/subscribe", data={"csrf": token, **fields}).status_code == 400
    clock.now += PER_IP.window  # a fresh rate-limit window for the last case
    stale = csrf_of(http.get("/subscribe"))
    clock.now += MAX_AGE["signup"] + timedelta(seconds=1)
    expired = http.post("/subscribe", data={"csrf": stale, **fields})
    assert expired.status_code == 410 and "open too long" in expired.text
    assert len(smtp.received) == 1 and stored(bot) == (0, 0, 0)


def test_rate_limits_per_ip_and_per_address_answer_429(
    site: tuple[Paperbot, httpx.Client], smtp: SmtpServer, clock: Clock
) -> None:
    bot, http = site
    assert (PER_IP.count, PER_IP.window, PER_ADDRESS.count, PER_ADDRESS.window) == (
        5,
        timedelta(hours=1),
        3,
        timedelta(days=1),
    )
    for _ in range(3):
        assert sign_up(http, "ada@example.org", "protein design").status_code == 303
    fourth = sign_up(http, "ADA@example.org", "protein design")  # the same address, however written
    assert fourth.status_code == 429 and "already sent 3 confirmation mails to this address" in fourth.text
    assert sign_up(http, "bob@example.org", "protein design").status_code == 303  # the 5th from this IP
    sixth = sign_up(http, "cy@example.org", "protein design")
    assert sixth.status_code == 429 and "at most 5 sign-ups an hour" in sixth.text
    assert sixth.headers["retry-after"] == "3600"
    assert [m.rcpt_tos for m in smtp.received] == [("ada@example.org",)] * 3 + [("bob@example.org",)]

    clock.now += timedelta(hours=1, seconds=1)  # the IP's window has passed, the address's has not
    assert sign_up(http, "cy@example.org", "protein design").status_code == 303
    assert sign_up(http, "ada@example.org", "protein design").status_code == 429
    clock.now += timedelta(days=1)
    assert sign_up(http, "ada@example.org", "protein design").status_code == 303
    assert len(smtp.received) == 6 and stored(bot) == (0, 0, 0)


def test_tampered_or_expired_confirm_links_get_4xx_and_store_nothing(
    site: tuple[Paperbot, httpx.Client], smtp: SmtpServer, clock: Clock
) -> None:
    bot, http = site
    assert sign_up(http, "grace@example.org", "protein design").status_code == 303
    token = confirm_link(smtp).rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    other_key = Links(["another-key-" + "y" * 32], base_url="http://x")
    manage = other_key.manage_token(subscription_id=1, now=CLICKED)
    forged = other_key.confirm_token(email="grace@example.org", interests=["x"], now=CLICKED)
    wrong_purpose = Links([KEY], base_url="http://x").manage_token(subscription_id=1, now=CLICKED)
    for bad in (flipped, token[:-10], manage, forged, wrong_purpose, "nonsense"):
        for method in ("GET", "POST"):
            answer = http.request(method, f"/subscribe/confirm/{bad}")
            assert answer.status_code == 400, (bad, method, answer.text)
            assert "not valid" in answer.text
    clock.now += MAX_AGE["confirm"] + timedelta(seconds=1)
    expired = http.post(f"/subscribe/confirm/{token}")
    assert expired.status_code == 410 and "expired" in expired.text
    assert stored(bot) == (0, 0, 0)


def test_a_mail_server_that_refuses_gets_an_error_at_the_form(
    site: tuple[Paperbot, httpx.Client], smtp: SmtpServer
) -> None:
    bot, http = site
    smtp.reject = "550 5.1.1 No such user"
    refused = sign_up(http, "nobody@example.org", "protein design")
    assert refused.status_code == 503 and "could not send the confirmation mail" in refused.text
    assert 'value="nobody@example.org"' in refused.text and stored(bot) == (0, 0, 0)


def test_without_a_mail_server_the_confirmation_goes_to_the_outbox(tmp_path: Path, clock: Clock) -> None:
    bot = make_bot(tmp_path / "data", secret_key=KEY, public_subscribe=True)
    with served(bot, clock) as base, httpx.Client(base_url=base) as http:
        assert sign_up(http, "grace@example.org", "protein design").status_code == 303
    (eml,) = (tmp_path / "data" / "outbox").glob("confirm-*.eml")
    assert (tmp_path / "data" / "outbox" / f"{eml.stem}.html").is_file()
    assert "/subscribe/confirm/" in eml.read_text() and stored(bot) == (0, 0, 0)
    bot.close()

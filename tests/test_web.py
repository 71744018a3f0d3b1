"""The email link pages, driven by the links in a digest that really went through SMTP.

In process (Starlette's TestClient) for the logic, on SQLite and PostgreSQL; one test against the app
served by uvicorn on a loopback port.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from bibtexparser.entrypoint import parse_string
from markupsafe import escape
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.channels.email.links import MAX_AGE, Links
from bot.digests.run import run_due
from bot.records import SubscriptionView
from bot.server.web import create_app
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.digest.world import (
    CLICKED,
    FEED_DAY1,
    FEEDS_DAY2,
    MONDAY,
    add_papers,
    client_for,
    links_by_label,
    make_world,
    state,
    subscribe,
)
from tests.smtp import SmtpServer

ONE_CLICK = b"List-Unsubscribe=One-Click"  # RFC 8058: the body a mail provider POSTs
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def bot(
    tmp_path: Path, database_url: str, smtp: SmtpServer, feeds_dir: Path, cached_encoder: Encoder
) -> Iterator[Paperbot]:
    bot = make_world(tmp_path / "data", database_url, encoder=cached_encoder, **smtp.settings())
    add_papers(bot, feeds_dir, [FEED_DAY1], at=MONDAY - timedelta(hours=2))
    subscribe(bot, "ada@example.org")
    assert [r.status for r in run_due(bot, now=MONDAY)] == ["sent"]
    yield bot
    bot.close()


@pytest.fixture
def mail(bot: Paperbot, smtp: SmtpServer) -> dict[str, list[str]]:
    """The links of the digest Ada received, by label; "List-Unsubscribe" from the header."""
    message = smtp.received[0].message
    html = message.get_body(("html",))
    assert html is not None
    found = links_by_label(str(html.get_content()))
    found["List-Unsubscribe"] = re.findall(r"<(https?://[^>]+)>", message["List-Unsubscribe"])
    return found


def sent_items(bot: Paperbot) -> int:
    """How many papers the digest Ada received holds (the real ranker's picks)."""
    with session_scope(bot.engine) as session:
        return len(session.exec(select(models.DigestItem)).all())


@pytest.fixture
def client(bot: Paperbot) -> TestClient:
    return client_for(bot)


def test_get_on_any_link_in_the_mail_changes_nothing(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    before = state(bot)
    urls = [url for label, urls in mail.items() for url in urls if url.startswith("http://localhost:8000/")]
    papers = sent_items(bot)
    assert papers >= 3  # the real ranker found several papers for Ada's interest
    assert len(urls) == papers * 3 + 3  # three votes per paper, manage, unsubscribe, List-Unsubscribe
    for url in urls:
        page = client.get(url)
        assert page.status_code == 200, (url, page.text)
        assert (
            page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
        )
    assert state(bot) == before
    confirm = client.get(mail["👎 Less like this"][0])
    assert '<form method="post"' in confirm.text and "Record 👎 Less like this?" in confirm.text


def test_posting_a_vote_records_it_once_and_the_last_vote_wins(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    up, save = mail["👍 More like this"][0], mail["🔖 Save"][0]
    first = client.post(up)
    assert first.status_code == 200 and "your next digest will reflect it" in first.text.lower()
    assert [(vote, via) for _, _, vote, via in state(bot)["feedback"]] == [("up", "email")]
    replay = client.post(up)  # a replayed token is harmless
    assert replay.status_code == 200 and "already recorded" in replay.text
    assert client.post(save).status_code == 200
    assert [vote for _, _, vote, _ in state(bot)["feedback"]] == ["save"]


def test_one_click_unsubscribe_stops_all_further_mail(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient, smtp: SmtpServer, feeds_dir: Path
) -> None:
    (one_click,) = mail["List-Unsubscribe"]
    response = client.post(one_click, content=ONE_CLICK, headers=FORM)
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert state(bot)["subscriptions"][0][1:] == (False, "unsubscribed")
    add_papers(bot, feeds_dir, FEEDS_DAY2, at=MONDAY + timedelta(hours=20))
    assert run_due(bot, now=MONDAY + timedelta(days=1)) == []
    assert len(smtp.received) == 1


def test_unsubscribe_page_button_and_replays(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    (link,) = mail["Unsubscribe"]
    page = client.get(link)
    assert 'method="post"' in page.text and state(bot)["subscriptions"][0][1] is True
    assert "You are unsubscribed" in client.post(link).text
    replay = client.post(link)  # still unsubscribed: say so, kindly (providers may retry one-click)
    assert replay.status_code == 200 and "You are unsubscribed" in replay.text

    (manage,) = mail["Manage your subscription"]
    back = client.post(
        manage, data={"action": "resume", "csrf": csrf(client, manage)}, follow_redirects=False
    )
    assert back.status_code == 303 and state(bot)["subscriptions"][0][1] is True
    refused = client.post(link)  # the old, used link must not undo the new subscription
    assert refused.status_code == 410 and "you subscribed again since" in refused.text
    (settings,) = re.findall(r'href="(http://localhost:8000/email/manage/[^"]+)"', refused.text)
    assert "Open your settings to unsubscribe or pause" in refused.text
    assert client.get(settings).status_code == 200 and "Pause" in client.get(settings).text
    assert state(bot)["subscriptions"][0][1] is True

    fresh = re.search(r'action="(http://localhost:8000/email/unsubscribe/[^"]+)"', client.get(manage).text)
    assert fresh is not None and "You are unsubscribed" in client.post(fresh.group(1)).text
    assert state(bot)["subscriptions"][0][1] is False


def test_manage_page_shows_the_subscription(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    (ada,) = [s for s in bot.subscriptions() if s.target == "ada@example.org"]
    bot.add_interest(subscriber_id=ada.subscriber_id, text="neural networks")  # the page lists them all
    page = client.get(mail["Manage your subscription"][0])
    assert page.status_code == 200
    for expected in (
        "ada@example.org",
        "daily at 08:00 (UTC)",
        "up to 10 papers",
        'value="testing deep learning models"',
        'value="neural networks"',
    ):
        assert expected in page.text


def csrf(client: TestClient, manage: str) -> str:
    """The form token of a freshly opened settings page (what the reader's browser would post)."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(manage).text)
    assert found is not None
    return found.group(1)


def post_form(client: TestClient, manage: str, **fields: str) -> Any:
    return client.post(manage, data={"csrf": csrf(client, manage), **fields}, follow_redirects=True)


def settings(bot: Paperbot) -> dict[str, list[tuple[object, ...]]]:
    """What a settings form could change (each form used marks its one-time token, by design)."""
    return {name: rows for name, rows in state(bot).items() if name != "processed"}


def ada_subscription(bot: Paperbot) -> SubscriptionView:
    (ada,) = [s for s in bot.subscriptions(active_only=False) if s.target == "ada@example.org"]
    return ada


def test_manage_page_edits_interests_preferences_and_schedule(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    (manage,) = mail["Manage your subscription"]
    ada = ada_subscription(bot)
    wanted = bot.listings()[-1].title  # a paper far from Ada's first interest: the new one must find it
    added = post_form(client, manage, action="add_interest", text=f"  {wanted}\u200b ")
    assert added.status_code == 200 and "Interest added" in added.text
    assert f'value="{escape(wanted[:200])}"' in added.text
    with session_scope(bot.engine) as session:
        row = session.exec(select(models.Interest).where(models.Interest.text == wanted)).one()
        # stored by the request, embedded by the task after the response (TestClient waits for it)
        assert row.vector is not None and row.vector_model == bot.settings.model
        new_id = row.id
    picks = bot.recommend(subscriber_id=ada.subscriber_id, now=CLICKED, limit=50)
    assert any(p.interest_id == new_id and p.listing.title == wanted for p in picks)  # uses it

    renamed = post_form(
        client, manage, action="rename_interest", interest_id=str(new_id), label="Molecule GNNs"
    )
    assert "Interest renamed" in renamed.text and 'value="Molecule GNNs"' in renamed.text

    prefs = post_form(
        client, manage, action="preferences", authors="Ada Lovelace, Alan Turing", keywords="quantum"
    )
    assert "apply from your next digest" in prefs.text
    view = bot.subscriber(subscriber_id=ada.subscriber_id)
    assert view.followed_authors == ("Ada Lovelace", "Alan Turing") and view.muted_keywords == ("quantum",)

    schedule = dict(
        action="schedule",
        frequency="weekly",
        weekday="2",
        send_time="06:30",
        timezone="Europe/Berlin",
        size="5",
    )
    assert "Schedule saved" in post_form(client, manage, **schedule).text
    changed = ada_subscription(bot)
    assert (changed.frequency, changed.weekday, changed.send_time, changed.timezone, changed.digest_size) == (
        "weekly",
        2,
        "06:30",
        "Europe/Berlin",
        5,
    )
    assert "every Wednesday at 06:30 (Europe/Berlin)" in client.get(manage).text

    removed = post_form(client, manage, action="remove_interest", interest_id=str(new_id))
    assert "Interest removed" in removed.text and "Molecule GNNs" not in removed.text


def test_bad_input_on_the_manage_page_is_shown_at_its_form_and_changes_nothing(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    (manage,) = mail["Manage your subscription"]
    before = settings(bot), bot.subscriber(subscriber_id=ada_subscription(bot).subscriber_id)
    cases = {
        ("schedule", "send_time", "25:00"): "is not HH:MM",
        ("schedule", "timezone", "Mars/Olympus"): "time zone 'Mars/Olympus' is unknown",
        ("schedule", "size", "500"): "must be between 1 and 50",
        ("add_interest", "text", "x" * 1001): "keep it under 1,000",
        ("add_interest", "text", "\u202e\u200b "): "an interest needs some text",
        ("pause", "weeks", "9"): "1 or 2 weeks",
    }
    good = dict(
        frequency="daily", weekday="0", send_time="08:00", timezone="UTC", size="10", text="x", weeks="1"
    )
    for (action, field, value), message in cases.items():
        page = client.post(
            manage, data={**good, "csrf": csrf(client, manage), "action": action, field: value}
        )
        assert page.status_code == 400, (action, field)
        section = page.text.split(f'value="{action}"', 1)[1].split("</form>", 1)[0]
        assert str(escape(message)) in section and 'class="error"' in section, (action, field)
    assert (settings(bot), bot.subscriber(subscriber_id=ada_subscription(bot).subscriber_id)) == before


def test_pause_for_two_weeks_skips_digests_until_then(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    (manage,) = mail["Manage your subscription"]
    paused = post_form(client, manage, action="pause", weeks="2")
    assert "Digests paused" in paused.text and "paused until 2026-12-07" in paused.text
    ada = ada_subscription(bot)
    assert ada.active is False and ada.paused_until == CLICKED + timedelta(weeks=2)
    assert [s.id for s in bot.subscriptions(now=CLICKED + timedelta(days=13))] == []
    assert [r.status for r in run_due(bot, now=MONDAY + timedelta(days=7))] == []  # nothing sent a week on
    resumed = run_due(bot, now=MONDAY + timedelta(days=15))  # the pause ended: the next digest runs
    # (no new papers in two weeks, so it is an "empty" digest rather than a "skipped" paused one)
    assert [(r.subscription_id, r.status) for r in resumed] == [(ada.id, "empty")]
    assert ada_subscription(bot).active is True and ada_subscription(bot).paused_until is None

    post_form(client, manage, action="pause", weeks="0")
    assert ada_subscription(bot).paused_until is None
    assert bot.subscriptions(now=MONDAY + timedelta(days=400)) == []  # until resumed: never by itself
    assert "Digests resumed" in post_form(client, manage, action="resume").text
    assert ada_subscription(bot).active is True


def test_forms_without_a_valid_csrf_token_change_nothing(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    (manage,) = mail["Manage your subscription"]
    other = bot.subscribe(email="eve@example.org", interests=["x rays"]).subscriptions[0]
    before = state(bot), bot.subscriber(subscriber_id=ada_subscription(bot).subscriber_id)
    pause = {"action": "pause", "weeks": "0"}
    token = csrf(client, manage)
    links = Links.from_settings(bot.settings)
    forged = {
        "missing": None,
        "garbage": "not-a-token",
        "tampered": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "another subscription's": links.form_token(subscription_id=other.id, now=CLICKED),
    }
    for name, value in forged.items():
        data = pause if value is None else {**pause, "csrf": value}
        response = client.post(manage, data=data)
        assert response.status_code == 400 and "Reload the page" in response.text, name
    expired = client_for(bot, at=CLICKED + timedelta(hours=13)).post(manage, data={**pause, "csrf": token})
    assert expired.status_code == 410
    assert (state(bot), bot.subscriber(subscriber_id=ada_subscription(bot).subscriber_id)) == before

    assert client.post(manage, data={**pause, "csrf": token}, follow_redirects=False).status_code == 303
    bot.set_active(subscription_id=ada_subscription(bot).id, active=True)
    replayed = client.post(manage, data={**pause, "csrf": token})  # the same form sent again
    assert replayed.status_code == 410 and ada_subscription(bot).active is True


def test_tampered_or_expired_manage_links_change_nothing(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    (manage,) = mail["Manage your subscription"]
    token = csrf(client, manage)
    before = state(bot)
    tampered = manage[:-3] + ("xyz" if not manage.endswith("xyz") else "abc")
    assert client.post(tampered, data={"action": "pause", "weeks": "0", "csrf": token}).status_code == 400
    late = client_for(bot, at=MONDAY + MAX_AGE["manage"] + timedelta(minutes=1))
    assert late.get(manage).status_code == 410
    assert late.post(manage, data={"action": "pause", "weeks": "0", "csrf": token}).status_code == 410
    assert state(bot) == before


def test_saved_papers_are_listed_exported_as_bibtex_and_removable(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    (manage,) = mail["Manage your subscription"]
    assert "Nothing saved yet" in client.get(manage).text
    save = mail["🔖 Save"][0]
    assert client.post(save).status_code == 200
    with session_scope(bot.engine) as session:
        saved = session.exec(select(models.Feedback)).one()
        listing = session.get(models.Listing, saved.listing_id)
        assert listing is not None
        title, listing_id = listing.title, saved.listing_id
    page = client.get(manage)
    assert title in page.text and "Download as BibTeX" in page.text

    bib = client.get(manage + "/saved.bib")
    assert bib.status_code == 200 and bib.headers["content-type"].startswith("application/x-bibtex")
    library = parse_string(bib.text)
    assert not library.failed_blocks
    (entry,) = library.entries
    fields = {f.key: f.value for f in entry.fields}
    assert entry.entry_type in ("misc", "article") and fields["title"].strip("{}") == title
    assert fields["author"] and fields["year"].isdigit() and (fields.get("eprint") or fields.get("doi"))

    gone = post_form(client, manage, action="remove_saved", listing_id=str(listing_id))
    assert "Removed from your saved papers" in gone.text and "Nothing saved yet" in gone.text
    assert bot.saved_papers(subscriber_id=ada_subscription(bot).subscriber_id) == []


def test_bad_links_get_a_friendly_page_with_a_4xx(
    bot: Paperbot, mail: dict[str, list[str]], client: TestClient
) -> None:
    up = mail["👍 More like this"][0]
    tampered = up[:-3] + ("xyz" if not up.endswith("xyz") else "abc")
    token = up.rsplit("/", 1)[1].split("?")[0]
    wrong_purpose = "http://localhost:8000/email/unsubscribe/" + token
    links = Links.from_settings(bot.settings)
    no_such_item = links.feedback_urls(item_id=999_999, now=MONDAY)["up"]
    no_such_vote = up.replace("?vote=up", "?vote=meh")
    cases = {
        tampered: (400, "This link does not work"),
        wrong_purpose: (400, "This link does not work"),
        "http://localhost:8000/email/feedback/": (404, "Not found"),
        no_such_vote: (400, "missing its vote"),
        "http://localhost:8000/email/manage/garbage": (400, "This link does not work"),
        no_such_item: (404, "no longer in our records"),
    }
    before = state(bot)
    for url, (status, words) in cases.items():
        for method in ("GET", "POST"):
            page = client.request(method, url)
            assert (page.status_code, page.headers["content-type"]) == (status, "text/html; charset=utf-8"), (
                url
            )
            assert words in page.text and "Traceback" not in page.text
    expired = client_for(bot, at=MONDAY + MAX_AGE["feedback"] + timedelta(minutes=1)).post(up)
    assert expired.status_code == 410 and "This link has expired" in expired.text
    assert state(bot) == before


def test_errors_are_json_when_asked(mail: dict[str, list[str]], client: TestClient) -> None:
    page = client.post(
        mail["👍 More like this"][0].replace("?", "xx?"), headers={"Accept": "application/json"}
    )
    assert page.status_code == 400
    assert page.json() == {"ok": False, "error": page.json()["error"], "status": 400}
    assert "not valid" in page.json()["error"]


def test_other_front_ends_add_routes_and_crashes_are_a_500_page(bot: Paperbot) -> None:
    def healthz(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    def boom(_request: Request) -> PlainTextResponse:
        raise RuntimeError("secret internals")

    app = create_app(bot, routes=[Route("/healthz", healthz), Route("/boom", boom)])
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/healthz").text == "ok"
    crash = client.get("/boom")
    assert crash.status_code == 500 and "try again" in crash.text and "secret internals" not in crash.text


def test_a_vote_through_the_served_app_over_http(bot: Paperbot, mail: dict[str, list[str]]) -> None:
    config = uvicorn.Config(
        create_app(bot, clock=lambda: CLICKED), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        path = mail["👎 Less like this"][0].removeprefix("http://localhost:8000")
        with httpx.Client(base_url=base) as http:
            assert "Record 👎" in http.get(path).text and state(bot)["feedback"] == []
            assert "recorded" in http.post(path).text
            (one_click,) = mail["List-Unsubscribe"]
            assert (
                http.post(
                    one_click.removeprefix("http://localhost:8000"), content=ONE_CLICK, headers=FORM
                ).status_code
                == 200
            )
    finally:
        server.should_exit = True
        thread.join(5)
    assert [vote for _, _, vote, _ in state(bot)["feedback"]] == ["down"]
    assert state(bot)["subscriptions"][0][1] is False

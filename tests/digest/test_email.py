"""Rendering a digest as email: structure, headers, escaping, links, layout rules. Pure: no sending."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.channels.email import templates
from bot.channels.email.links import Links
from bot.channels.email.render import (
    digest_context,
    inline_css,
    inlined_template,
    render_confirmation,
    render_email,
)
from bot.channels.email.wire import envelope, wire_bytes
from bot.config import Settings, load_settings
from bot.digests.display import format_authors, format_range, snippet, subject
from bot.records import DigestEntry, DigestView, ListingView, SubscriptionView
from tests.digest.world import links_by_label

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
NASTY_TITLE = '<script>alert("x")</script> Fast & <b>bold</b> GNNs'
NASTY_ABSTRACT = "We prove $\\mathcal{O}(n \\log n) < 2^{k}$ & beat A<B baselines 🚀 — naïvely, R&D-style."


def listing(n: int, **overrides: object) -> ListingView:
    values: dict[str, object] = {
        "id": n,
        "canonical_id": f"arxiv:2611.{n:05d}",
        "title": f"Paper number {n}",
        "abstract": "An abstract. " * 10,
        "authors": ("Ada Lovelace", "Alan Turing"),
        "categories": ("cs.LG", "stat.ML", "cs.AI"),
        "arxiv_id": f"2611.{n:05d}",
        "doi": None,
        "version": 1,
        "abs_url": f"https://arxiv.org/abs/2611.{n:05d}",
        "pdf_url": None,
        "published": NOW - timedelta(hours=10),
        "first_seen": NOW - timedelta(hours=2),
        "sources": ("arxiv_rss",),
        "upvotes": None,
    }
    return ListingView(**{**values, **overrides})  # type: ignore[arg-type]


def entry(n: int, label: str = "graph neural networks", **overrides: object) -> DigestEntry:
    return DigestEntry(
        item_id=100 + n,
        position=n,
        listing=listing(n, **overrides),
        score=0.8,
        reason=f"close to your interest “{label}”",
        interest_label=label,
    )


SUBSCRIPTION = SubscriptionView(
    id=3,
    subscriber_id=2,
    channel="email",
    target="ada@example.org",
    frequency="daily",
    send_time="08:00",
    timezone="Europe/Berlin",
    weekday=0,
    digest_size=10,
    always_send=True,
    active=True,
    paused_reason=None,
)


def view(*entries: DigestEntry) -> DigestView:
    return DigestView(
        id=9,
        subscription_id=3,
        subscriber_id=2,
        subscriber_name="Ada Lovelace",
        channel="email",
        target="ada@example.org",
        period="2026-11-23",
        period_start=NOW - timedelta(days=1),
        period_end=NOW,
        interests=("graph neural networks", "protein design"),
        entries=entries,
        status="claimed",
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path,
        secret_key="k" * 48,
        base_url="https://paperbot.example.org",
        smtp_from="paperbot <digest@paperbot.example.org>",
    )


def rendered(settings: Settings, digest: DigestView) -> EmailMessage:
    message = render_email(digest, subscription=SUBSCRIPTION, settings=settings, now=NOW)
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)  # what a client would see
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    crlf = (str(text.get_content()), str(html.get_content()))
    return crlf[0].replace("\r\n", "\n"), crlf[1].replace("\r\n", "\n")


def test_multipart_alternative_with_text_first_and_bulk_sender_headers(settings: Settings) -> None:
    message = rendered(settings, view(entry(1), entry(2, "protein design"), entry(3)))
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Subject"] == "3 new papers: graph neural networks, protein design"
    assert message["From"] == "paperbot <digest@paperbot.example.org>"
    assert message["To"] == "Ada Lovelace <ada@example.org>"
    assert message["Date"] == "Mon, 23 Nov 2026 07:00:00 +0000"
    assert message["Message-ID"] == "<digest.9.2026-11-23@paperbot.example.org>"
    assert message["List-Id"] == "paperbot digest <digest.paperbot.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
    assert https.startswith("https://paperbot.example.org/email/unsubscribe/")
    assert mailto.startswith("mailto:digest@paperbot.example.org?subject=unsubscribe%20")
    assert https.rsplit("/", 1)[1] in mailto


def test_every_link_carries_a_valid_token_for_its_purpose(settings: Settings) -> None:
    links = Links.from_settings(settings)
    text, html = parts(rendered(settings, view(entry(1), entry(2))))
    by_label = links_by_label(html)
    assert by_label["Paper number 1"] == ["https://arxiv.org/abs/2611.00001"]
    for label, vote in [("👍 More like this", "up"), ("👎 Less like this", "down"), ("🔖 Save", "save")]:
        pairs = [href.rsplit("/", 1)[1].split("?vote=") for href in by_label[label]]
        assert [(v, links.read_feedback(t, now=NOW).item_id) for t, v in pairs] == [(vote, 101), (vote, 102)]
        assert all(href in text for href in by_label[label])  # the text part has the same links
    (manage,) = by_label["Manage your subscription"]
    assert links.read_manage(manage.rsplit("/", 1)[1], now=NOW).subscription_id == 3
    (unsubscribe,) = by_label["Unsubscribe"]
    assert links.read_unsubscribe(unsubscribe.rsplit("/", 1)[1], now=NOW).subscription_id == 3


def test_hostile_title_and_abstract_render_escaped_and_intact(settings: Settings) -> None:
    text, html = parts(rendered(settings, view(entry(1, title=NASTY_TITLE, abstract=NASTY_ABSTRACT))))
    # HTML: markup in data is escaped, never live; the words survive.
    assert "<script>" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Fast &amp; &lt;b&gt;bold&lt;/b&gt; GNNs" in html
    assert (
        "$\\mathcal{O}(n \\log n) &lt; 2^{k}$ &amp; beat A&lt;B baselines 🚀 — naïvely, R&amp;D-style."
        in html
    )
    # Text: exactly the characters of the paper, no entities.
    assert NASTY_TITLE in text
    assert " ".join(NASTY_ABSTRACT.split()) in " ".join(text.split())


def test_html_is_600px_table_layout_with_inlined_css_and_dark_mode(settings: Settings) -> None:
    _, html = parts(rendered(settings, view(entry(1))))
    assert 'role="presentation"' in html and "max-width: 600px" in html
    assert re.search(r'<td class="item pad" style="[^"]*padding', html)  # CSS went inline
    assert "@media (prefers-color-scheme: dark)" in html  # kept: at-rules cannot be inlined
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (max-width: 480px)" in html


def document(html: str) -> list[tuple[str, ...]]:
    """The parsed document as events (tags with their attributes in name order, text with entities
    decoded, comments): equal for equal documents however they are serialised."""
    events: list[tuple[str, ...]] = []

    class Events(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            events.append(("start", tag, *(f"{k}={v}" for k, v in sorted(attrs))))

        def handle_endtag(self, tag: str) -> None:
            events.append(("end", tag))

        def handle_data(self, data: str) -> None:
            events.append(("text", data))

        def handle_comment(self, data: str) -> None:
            events.append(("comment", data))

    parser = Events(convert_charrefs=True)
    parser.feed(html)
    parser.close()
    return events


@pytest.mark.parametrize(
    "entries",
    [
        (entry(1, title=NASTY_TITLE, abstract=NASTY_ABSTRACT), entry(2, abs_url=None), entry(3, authors=())),
        (),  # the short note of an empty digest
    ],
)
def test_css_inlined_once_into_the_template_gives_the_document_inlining_each_message_gave(
    settings: Settings, entries: tuple[DigestEntry, ...]
) -> None:
    links = Links.from_settings(settings)
    token = links.unsubscribe_token(subscription_id=SUBSCRIPTION.id, now=NOW)
    context = digest_context(
        view(*entries), subscription=SUBSCRIPTION, settings=settings, now=NOW, links=links, unsubscribe=token
    )
    once = inlined_template("digest.html").render(context)
    each = inline_css(templates.get_template("digest.html").render(context))
    assert document(once) == document(each)
    assert "{%" not in once and "paperbot:" not in once
    assert len(re.findall(r'class="action" [^>]*style="', once)) == 3 * len(entries)


def test_the_confirmation_mail_inlined_once_is_the_document_inlining_it_each_time_gave() -> None:
    context = {
        "subject": "Confirm your paperbot subscription",
        "recipient": "ada@example.org",
        "interests": ["graph <neural> networks", "R&D"],
        "confirm_url": "https://paperbot.example.org/subscribe/confirm/abc?x=1&y=2",
        "valid_days": 2,
    }
    once = inlined_template("confirm.html").render(context)
    each = inline_css(templates.get_template("confirm.html").render(context))
    assert document(once) == document(each)


def test_item_shows_authors_source_date_snippet_and_reason(settings: Settings) -> None:
    many = tuple(f"Author {i}" for i in range(15))
    text, html = parts(rendered(settings, view(entry(1, authors=many, abstract="word " * 200))))
    assert "Author 0, Author 1, Author 2 and 12 others" in text and "and 12 others" in html
    assert "arXiv · cs.LG, stat.ML · 22 Nov 2026" in text  # published 22:00 in Berlin
    assert "Why: close to your interest “graph neural networks”" in " ".join(text.split())
    assert "word word …" in text
    assert "Sun 22 – Mon 23 Nov 2026" in text  # the window, in the subscriber's time zone
    assert "Your interests: graph neural networks, protein design" in text
    assert "daily digest because ada@example.org subscribed" in " ".join(text.split())


def test_text_part_is_written_for_text(settings: Settings) -> None:
    text, _ = parts(rendered(settings, view(entry(1, abstract="lorem ipsum dolor " * 30))))
    assert "<td" not in text and "&amp;" not in text
    prose = [line for line in text.splitlines() if line and "http" not in line]
    assert max(map(len, prose)) <= 76  # wrapped for reading, links excepted
    assert "\n1. Paper number 1\n   Ada Lovelace and Alan Turing\n" in text


def test_empty_digest_is_a_short_note(settings: Settings) -> None:
    message = rendered(settings, view())
    text, html = parts(message)
    assert message["Subject"] == "No new papers above your bar today"
    assert "Nothing new cleared your bar since 22 Nov 2026" in text
    assert "More like this" not in html and "Unsubscribe" in html


def test_outbox_target_has_no_to_header(settings: Settings) -> None:
    message = rendered(settings, replace(view(entry(1)), target="lab-notes", channel="outbox"))
    assert message["To"] is None


@pytest.mark.parametrize(
    ("authors", "shown"),
    [
        ((), ""),
        (("A",), "A"),
        (("A", "B"), "A and B"),
        (("A", "B", "C", "D"), "A, B, C and D"),
        (("A", "B", "C", "D", "E"), "A, B, C and 2 others"),
    ],
)
def test_format_authors(authors: tuple[str, ...], shown: str) -> None:
    assert format_authors(authors) == shown


def test_snippet_never_cuts_inside_latex() -> None:
    text = "x " * 140 + "we bound $\\sum_{i=1}^{n} a_i$ tightly"
    cut = snippet(text, limit=290)
    assert cut.endswith(" …") and "$" not in cut


def test_subject_is_capped_and_says_something() -> None:
    labels = [entry(n, label=f"a rather long interest label number {n}") for n in range(6)]
    long_subject = subject(view(*labels))
    assert len(long_subject) <= 90 and long_subject.startswith("6 new papers: a rather long")
    assert subject(view(entry(1))) == "1 new paper: graph neural networks"
    assert subject(view(), weekly=True) == "No new papers above your bar this week"


def test_range_across_months_and_years() -> None:
    start, end = datetime(2026, 12, 28, 8, tzinfo=UTC), datetime(2027, 1, 4, 8, tzinfo=UTC)
    assert format_range(start, end, "UTC") == "Mon 28 Dec 2026 – Mon 4 Jan 2027"
    assert format_range(datetime(2026, 11, 27, 8, tzinfo=UTC), NOW, "UTC") == "Fri 27 – Mon 23 Nov 2026"


def test_non_ascii_names_are_encoded_in_headers(settings: Settings) -> None:
    message = rendered(
        settings.model_copy(update={"smtp_from": "Papierbot Zürich <digest@example.org>"}),
        replace(view(entry(1, label="Schrödinger équations")), subscriber_name="Zoë Çelik"),
    )
    assert message["To"].addresses[0].display_name == "Zoë Çelik"
    assert message["From"].addresses[0].display_name == "Papierbot Zürich"
    assert message["Subject"] == "1 new paper: Schrödinger équations"


def crlf_bytes(message: EmailMessage) -> bytes:
    """The email package's own serialisation, with the line ends SMTP carries."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def test_the_wire_bytes_are_the_email_packages_bytes(settings: Settings) -> None:
    hostile = entry(2, title=NASTY_TITLE, abstract=NASTY_ABSTRACT, authors=("Zoë Çelik",))
    digest = replace(view(entry(1), hostile), subscriber_name="Zoë Çelik")
    for message in (
        render_email(digest, subscription=SUBSCRIPTION, settings=settings, now=NOW),
        render_email(view(), subscription=SUBSCRIPTION, settings=settings, now=NOW),  # the empty note
        render_confirmation(
            email="ada@example.org",
            interests=["graph <neural> networks", "R&D"],
            confirm_url="https://paperbot.example.org/subscribe/confirm/abc?x=1&y=2",
            settings=settings,
            now=NOW,
        ),
    ):
        assert wire_bytes(message) == crlf_bytes(message)
        assert envelope(message) == ("digest@paperbot.example.org", ["ada@example.org"])


def test_the_confirmation_mail_is_text_then_html(settings: Settings) -> None:
    url = "https://x.example/c"
    message = render_confirmation(
        email="ada@example.org", interests=["R&D"], confirm_url=url, settings=settings, now=NOW
    )
    parsed = message_from_bytes(wire_bytes(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    text, html = parts(parsed)
    assert url in text and f'href="{url}"' in html

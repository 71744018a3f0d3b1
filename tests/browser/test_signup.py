"""The public sign-up page in a real headless Chromium (Debian's, driven by Playwright), at 375 px and in
dark mode: sign up, open the confirmation mail's link (sent through a real SMTP server), confirm, and
land on the settings page of the new subscription.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.server.web import create_app
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from tests.browser.test_manage import CHROMIUM, free_port
from tests.digest.world import CLICKED, links_by_label, make_world
from tests.served import served_app
from tests.smtp import SmtpServer

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: bash scripts/setup.sh --dev installs it"
)


@pytest.fixture
def served(
    tmp_path: Path, database_url: str, smtp: SmtpServer, cached_encoder: Encoder
) -> Iterator[tuple[Paperbot, str]]:
    """A paperbot with the public sign-up page on, served on a loopback port (its links point there)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bot = make_world(
        tmp_path / "data",
        database_url,
        encoder=cached_encoder,
        base_url=base,
        public_subscribe=True,
        **smtp.settings(),
    )
    with served_app(create_app(bot, clock=lambda: CLICKED), port=port):
        yield bot, base
    bot.close()


def test_a_visitor_signs_up_confirms_by_mail_and_sees_the_settings_page(
    served: tuple[Paperbot, str], smtp: SmtpServer
) -> None:
    from playwright.sync_api import expect, sync_playwright

    bot, base = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 375, "height": 800}, color_scheme="dark")

        page.goto(f"{base}/subscribe")
        expect(page.get_by_role("heading")).to_have_text("Get paperbot digests by email")
        # The page's dark palette and no sideways scrolling at 375 px.
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375

        page.get_by_label("Your email address").fill("not-an-address@")
        page.get_by_label("Your interests, one per line").fill("protein design")
        page.locator("form").evaluate("form => form.noValidate = true")  # past the browser's own check
        page.get_by_role("button", name="Send me a confirmation link").click()
        expect(page.locator("#email-error")).to_contain_text("is not an email address")
        assert smtp.received == []

        page.get_by_label("Your email address").fill("grace@example.org")
        page.get_by_label("Your interests, one per line").fill(
            "graph neural networks for molecules\nprotein design"
        )
        page.get_by_role("button", name="Send me a confirmation link").click()
        expect(page.get_by_role("heading")).to_have_text("Check your inbox")
        assert bot.find_subscriber(email="grace@example.org") is None  # nothing before the click

        (mail,) = smtp.received
        html = mail.message.get_body(("html",))
        assert html is not None and mail.rcpt_tos == ("grace@example.org",)
        (link,) = links_by_label(str(html.get_content()))["Confirm my subscription"]
        page.goto(link)
        expect(page.get_by_role("heading")).to_have_text("Confirm your subscription")
        page.get_by_role("button", name="Confirm subscription").click()

        expect(page.get_by_role("status")).to_contain_text("You are subscribed")
        expect(page.get_by_role("heading", level=1)).to_have_text("Your subscription")
        expect(page.locator("#interests input[name=label]")).to_have_count(2)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        view = bot.find_subscriber(email="grace@example.org")
        assert view is not None and [s.active for s in view.subscriptions] == [True]
        assert {i.label for i in view.interests} == {"graph neural networks for molecules", "protein design"}
        browser.close()

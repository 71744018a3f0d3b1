"""Screenshot the email readers' manage page, the public sign-up page and its confirmation mail with
headless Chromium at 600 and 375 px, light and dark.

    .venv/bin/python scripts/screenshot_manage.py   # docs/<page>-{600,375}-{light,dark}.png
    .venv/bin/python scripts/screenshot_manage.py --out /tmp/shots

The page is rendered by the real app (`bot.server.web.create_app`) for a throwaway installation holding
real papers (the bundled sample feed), two interests and two saved papers; no model is loaded (the
interests are stored unembedded, as the page itself stores them). Drives Debian's Chromium through
Playwright (`apt-get install chromium`; never `playwright install`).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import sync_playwright
from starlette.testclient import TestClient

from bot.channels.email.links import Links
from bot.channels.email.render import render_confirmation
from bot.config import Settings
from bot.server.web import create_app
from bot.service import Paperbot, sample_feed_path

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 4, 13, 7, 0, tzinfo=UTC)


def manage_html(data_dir: Path) -> str:
    """The manage page of a subscriber with interests, preferences and saved papers."""
    settings = Settings(data_dir=data_dir, secret_key="screenshot-key-" + "x" * 32)  # type: ignore[call-arg, arg-type]
    bot = Paperbot(settings)
    try:
        bot.ingest(sources=[str(sample_feed_path())], embed=False, now=NOW)
        view = bot.subscribe(email="ada@example.org", name="Ada")
        for text in ("metamorphic testing of ML systems", "mutation testing"):
            bot.add_interest(subscriber_id=view.id, text=text, embed=False)
        bot.set_preferences(subscriber_id=view.id, follow_authors=["T. Y. Chen"], mute_keywords=["survey"])
        for listing in bot.listings(limit=2):
            bot.record_feedback(subscriber_id=view.id, listing_id=listing.id, vote="save", now=NOW)
        (sub,) = view.subscriptions
        url = Links.from_settings(settings).manage_url(subscription_id=sub.id, now=NOW)
        client = TestClient(create_app(bot, clock=lambda: NOW), base_url=settings.base_url)
        page = client.get(url + "?done=schedule")
        page.raise_for_status()
        return page.text
    finally:
        bot.close()


def signup_html(data_dir: Path) -> dict[str, str]:
    """The public sign-up page (PAPERBOT_PUBLIC_SUBSCRIBE) and the HTML of the mail it sends."""
    settings = Settings(data_dir=data_dir, secret_key="screenshot-key-" + "x" * 32, public_subscribe=True)  # type: ignore[call-arg, arg-type]
    bot = Paperbot(settings)
    try:
        client = TestClient(create_app(bot, clock=lambda: NOW), base_url=settings.base_url)
        form = client.get("/subscribe")
        form.raise_for_status()
        interests = ["metamorphic testing of ML systems", "mutation testing"]
        token = Links.from_settings(settings).confirm_token(
            email="ada@example.org", interests=interests, now=NOW
        )
        mail = render_confirmation(
            email="ada@example.org",
            interests=interests,
            confirm_url=Links.from_settings(settings).confirm_url(token),
            settings=settings,
            now=NOW,
        )
        html = mail.get_body(preferencelist=("html",))
        assert html is not None
        return {"subscribe": form.text, "confirm-mail": str(html.get_content())}
    finally:
        bot.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "docs", help="Folder for the PNGs (default: docs)."
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        pages = {"manage": manage_html(Path(work) / "data"), **signup_html(Path(work) / "signup")}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for name, html in pages.items():
                page_file = Path(work) / f"{name}.html"
                page_file.write_text(html, encoding="utf-8")
                for width in (600, 375):
                    for scheme in ("light", "dark"):
                        page = browser.new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
                        page.goto(page_file.as_uri())
                        target = args.out / f"{name}-{width}-{scheme}.png"
                        page.screenshot(path=str(target), full_page=True)
                        page.close()
                        print(target)
            browser.close()


if __name__ == "__main__":
    main()

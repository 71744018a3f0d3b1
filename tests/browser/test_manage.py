"""The manage page in a real headless Chromium (Debian's, driven by Playwright), served by uvicorn on a
loopback port, reached from the links of a digest that really went through SMTP.

Chromium comes from `scripts/setup.sh --dev` (apt `chromium`); Playwright never downloads a browser here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from bibtexparser.entrypoint import parse_string

from bot.digests.period import next_send_after
from bot.digests.run import run_due
from bot.server.web import create_app
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from tests.digest.world import CLICKED, FEED_DAY1, MONDAY, add_papers, links_by_label, make_world, subscribe
from tests.served import served_app
from tests.smtp import SmtpServer

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: bash scripts/setup.sh --dev installs it"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(
    tmp_path: Path, database_url: str, smtp: SmtpServer, feeds_dir: Path, cached_encoder: Encoder
) -> Iterator[tuple[Paperbot, str]]:
    """Ada's world, its app on a loopback port (the digest's links point there)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bot = make_world(
        tmp_path / "data", database_url, encoder=cached_encoder, base_url=base, **smtp.settings()
    )
    add_papers(bot, feeds_dir, [FEED_DAY1], at=MONDAY - timedelta(hours=2))
    subscribe(bot, "ada@example.org")
    assert [r.status for r in run_due(bot, now=MONDAY)] == ["sent"]
    with served_app(create_app(bot, clock=lambda: CLICKED), port=port):
        yield bot, base
    bot.close()


def test_a_reader_manages_the_subscription_in_a_real_browser(
    served: tuple[Paperbot, str], smtp: SmtpServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    bot, base = served
    html = smtp.received[0].message.get_body(("html",))
    assert html is not None
    links = links_by_label(str(html.get_content()))
    (manage,) = links["Manage your subscription"]
    save = links["🔖 Save"][0]
    assert manage.startswith(base) and save.startswith(base)
    (sub,) = bot.subscriptions()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 375, "height": 800}, accept_downloads=True)

        page.goto(save)  # 🔖 from the digest: a page with a button (the GET changes nothing)
        page.get_by_role("button", name="Yes, record 🔖 Save").click()
        expect(page.get_by_role("heading")).to_contain_text("recorded")
        (saved,) = bot.saved_papers(subscriber_id=sub.subscriber_id)

        page.goto(manage)
        expect(page.locator("#saved")).to_contain_text(saved.title)

        page.get_by_label("Add an interest, in your own words").fill("mutation testing of neural networks")
        page.get_by_role("button", name="Add interest").click()
        expect(page.get_by_role("status")).to_contain_text("Interest added")
        labels = [i.label for i in bot.subscriber(subscriber_id=sub.subscriber_id).interests]
        assert "mutation testing of neural networks" in labels
        picks = bot.recommend(subscriber_id=sub.subscriber_id, now=CLICKED, limit=50)
        assert "mutation testing of neural networks" in {p.interest_label for p in picks}

        page.locator("input[name=send_time]").fill("06:30")
        page.get_by_role("button", name="Save schedule").click()
        expect(page.get_by_role("status")).to_contain_text("Schedule saved")
        changed = bot.subscription(subscription_id=sub.id)
        assert changed.send_time == "06:30"
        fire = next_send_after(changed, CLICKED)
        assert (fire.hour, fire.minute) == (6, 30)  # what the tick plans next

        with page.expect_download() as download:
            page.get_by_role("link", name="Download as BibTeX").click()
        target = tmp_path / "saved.bib"
        download.value.save_as(target)
        library = parse_string(target.read_text())
        assert not library.failed_blocks
        assert [e.fields_dict["title"].value.strip("{}") for e in library.entries] == [saved.title]

        page.locator("#weeks").select_option("1")
        page.get_by_role("button", name="Pause").click()
        expect(page.get_by_role("status")).to_contain_text("Digests paused")
        paused = bot.subscription(subscription_id=sub.id)
        assert not paused.active and paused.paused_until == CLICKED + timedelta(weeks=1)
        assert run_due(bot, now=MONDAY + timedelta(days=1)) == []  # tomorrow's digest is not sent
        browser.close()

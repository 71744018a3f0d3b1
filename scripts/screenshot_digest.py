"""Render a digest of real sample papers and screenshot it with headless Chromium at 600 and 375 px.

    .venv/bin/python scripts/screenshot_digest.py                 # docs/digest-600.png, docs/digest-375.png
    .venv/bin/python scripts/screenshot_digest.py --dark          # and docs/digest-375-dark.png
    .venv/bin/python scripts/screenshot_digest.py --feed my.xml --out /tmp/shots

The papers come from a real arXiv API response (../shared/data/feeds, else the bundled sample); the
mail is rendered by the same code as real digests (`bot.channels.email.render.render_email`), so the pictures
show what subscribers get. Run it after changing the templates and look at the PNGs.

Needs Debian's Chromium and an emoji font:  apt-get install chromium fonts-noto-color-emoji
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

from bot.channels.email.render import render_email
from bot.config import load_settings
from bot.ingest.sources import parse
from bot.records import DigestEntry, DigestView, ListingView, SubscriptionView
from bot.service import sample_feed_path

REPO = Path(__file__).resolve().parents[1]
REAL_FEED = REPO.parent / "shared" / "data" / "feeds" / "arxiv_api_query_all-testing_m100_2026-04-12.atom.xml"
NOW = datetime(2026, 4, 13, 7, 0, tzinfo=UTC)
MOJIBAKE = re.compile("[ÃÎÏÂ][\u0080-\u00bf]")
INTERESTS = ("metamorphic testing", "mutation testing", "hypothesis testing")
# Flags from the integration notes: no network, no first-run UI, a throwaway profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--force-device-scale-factor=1",
)


def digest_of(feed: Path, size: int) -> DigestView:
    """The first papers of `feed` that match an interest word, as a digest with ranker-style reasons."""
    entries: list[DigestEntry] = []
    for n, paper in enumerate(parse(feed.read_bytes(), url=str(feed))):
        text = f"{paper.title} {paper.abstract}"
        label = next((i for i in INTERESTS if i.split()[0] in text.lower()), None)
        # Some abstracts in this sample were double-encoded by whoever saved it ("Î±" for "α").
        if label is None or len(entries) == size or MOJIBAKE.search(text):
            continue
        listing = ListingView(
            id=n,
            canonical_id=paper.arxiv_id or str(n),
            title=paper.title,
            abstract=paper.abstract,
            authors=paper.authors,
            categories=paper.categories,
            arxiv_id=paper.arxiv_id,
            doi=paper.doi,
            version=paper.version,
            abs_url=paper.abs_url,
            pdf_url=paper.pdf_url,
            published=paper.published,
            first_seen=NOW - timedelta(hours=3),
            sources=(paper.source,),
            upvotes=paper.upvotes,
        )
        reason = (
            f'matches "{label}"' if entries else f'because you liked "{INTERESTS[0].title()} in Practice"'
        )
        entries.append(DigestEntry(len(entries) + 1000, len(entries) + 1, listing, 3.1, reason, label))
    return DigestView(
        id=42,
        subscription_id=7,
        subscriber_id=3,
        subscriber_name="Ada Lovelace",
        channel="email",
        target="ada@example.org",
        period=NOW.date().isoformat(),
        period_start=NOW - timedelta(days=1),
        period_end=NOW,
        interests=INTERESTS,
        entries=tuple(entries),
        status="claimed",
    )


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    sys.exit("Chromium not found: install it with `apt-get install chromium fonts-noto-color-emoji`")


def run(browser: str, page: Path, profile: Path, width: int, height: int, *extra: str) -> str:
    command = [
        browser,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        *extra,
    ]
    done = subprocess.run([*command, page.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        sys.exit(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def page_height(browser: str, html: str, work: Path, width: int, *extra: str) -> int:
    """The rendered height at `width`. Headless windows are never narrower than 500 px, so the mail
    is laid out in an iframe of exactly `width` (its media queries see that width) and a script
    writes the height into the DOM that --dump-dom prints."""
    probe = work / f"probe-{width}.html"
    frame = escape(html, quote=True)
    measure = "document.body.dataset.h = this.contentDocument.documentElement.scrollHeight"
    probe.write_text(
        f'<html><body><iframe style="width:{width}px;height:10px;border:0" onload="{measure}" '
        f'srcdoc="{frame}"></iframe></body></html>',
        encoding="utf-8",
    )
    dom = run(browser, probe, work / "profile", 800, 600, "--dump-dom", *extra)
    found = re.search(r'data-h="(\d+)"', dom)
    if found is None:
        sys.exit("could not measure the page height with chromium --dump-dom")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feed", type=Path, help="feed file with the papers (default: a real arXiv sample)")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where the PNGs go (default: docs/)")
    parser.add_argument("-n", "--papers", type=int, default=5, help="papers in the digest (default: 5)")
    parser.add_argument("--dark", action="store_true", help="also a 375 px shot in dark mode")
    args = parser.parse_args(argv)
    feed = args.feed or (REAL_FEED if REAL_FEED.exists() else sample_feed_path())
    settings = load_settings(
        secret_key="screenshot-only-" + "x" * 32,
        base_url="https://paperbot.example.org",
        smtp_from="paperbot <digest@paperbot.example.org>",
    )
    subscription = SubscriptionView(
        id=7,
        subscriber_id=3,
        channel="email",
        target="ada@example.org",
        frequency="daily",
        send_time="08:00",
        timezone="Europe/Berlin",
        weekday=0,
        digest_size=10,
        always_send=False,
        active=True,
        paused_reason=None,
    )
    view = digest_of(feed, args.papers)
    message = render_email(view, subscription=subscription, settings=settings, now=NOW)
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    browser = chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    shots: list[tuple[int, str, tuple[str, ...]]] = [(600, "digest-600.png", ()), (375, "digest-375.png", ())]
    if args.dark:
        shots.append(
            (375, "digest-375-dark.png", ("--force-dark-mode", "--blink-settings=preferredColorScheme=0"))
        )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        page = work / "digest.html"
        page.write_text(html, encoding="utf-8")
        for width, name, extra in shots:
            height = page_height(browser, html, work, width, *extra)
            target = args.out / name
            run(browser, page, work / "profile", width, height, f"--screenshot={target}", *extra)
            print(f"{target} ({width}x{height}, {len(view.entries)} papers from {feed.name})")


if __name__ == "__main__":
    main()

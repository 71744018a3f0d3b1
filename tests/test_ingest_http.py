"""Ingest over real HTTP on loopback: conditional GET, throttling, outages, slow and garbage answers.
A bad source is reported with its own status while the others still ingest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.service import Paperbot
from tests.factories import make_bot

FEED = "arxiv_rss_new_cs.LG_2026-04-27_trimmed.xml"


class FeedServer(ThreadingHTTPServer):
    feed: bytes
    hits: dict[str, int]


class Handler(BaseHTTPRequestHandler):
    server: FeedServer

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        hits = self.server.hits
        hits[self.path] = hits.get(self.path, 0) + 1
        if self.path == "/feed":
            if self.headers.get("If-None-Match") == '"v1"':
                return self.send(304)
            return self.send(200, self.server.feed, ETag='"v1"', Content_Type="application/rss+xml")
        if self.path == "/throttled":  # 429 once, then the feed
            if hits[self.path] == 1:
                return self.send(429, b"slow down", Retry_After="1")
            return self.send(200, self.server.feed, Content_Type="application/rss+xml")
        if self.path == "/down":
            return self.send(503, b"<html><body>Service Unavailable</body></html>", Content_Type="text/html")
        if self.path == "/slow":
            time.sleep(1.0)
            return self.send(200, self.server.feed)
        if self.path == "/garbage":
            return self.send(200, bytes(range(256)) * 8, Content_Type="application/octet-stream")
        self.send(404)


@pytest.fixture
def server(feeds_dir: Path) -> Iterator[str]:
    httpd = FeedServer(("127.0.0.1", 0), Handler)
    httpd.feed, httpd.hits = (feeds_dir / FEED).read_bytes(), {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Paperbot]:
    bot = make_bot(tmp_path / "data", fetch_timeout=0.3)
    yield bot
    bot.close()


@pytest.mark.slow  # waits out a source's timeout
def test_each_bad_source_fails_alone(bot: Paperbot, server: str) -> None:
    urls = [f"{server}/{path}" for path in ("down", "feed", "slow", "garbage", "throttled")]
    report = bot.ingest(sources=urls, embed=False)
    status = {r.source.rsplit("/", 1)[1]: r for r in report.sources}
    assert status["feed"].status == "ok" and status["feed"].new == 3
    assert status["throttled"].status == "ok" and status["throttled"].duplicate == 3  # 429 waited out
    assert status["down"].status == "failed" and "503" in (status["down"].error or "")
    assert status["slow"].status == "failed" and "timed out" in (status["slow"].error or "")
    assert status["garbage"].status == "failed" and status["garbage"].error
    assert bot.count_listings() == 3
    recorded = {Path(v.url).name: v.last_error for v in bot.list_sources(everything=True)}
    assert recorded["feed"] is None and recorded["down"] and recorded["slow"] and recorded["garbage"]


def test_conditional_get_answers_not_modified(bot: Paperbot, server: str) -> None:
    first = bot.ingest(sources=[f"{server}/feed"], embed=False)
    second = bot.ingest(sources=[f"{server}/feed"], embed=False)
    assert first.sources[0].new == 3
    assert second.sources[0].status == "not_modified"
    assert bot.count_listings() == 3

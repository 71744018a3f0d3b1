"""bot.ingest.fetch against a real loopback HTTP server (httpx.MockTransport for the arXiv courtesy delay).

The server runs in a thread on 127.0.0.1, port chosen at run time. Each test uses its own path
suffix, so the attempt counts the server records never mix between tests. `sleep` is injected and
only records, so retries and backoff cost no time.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

import bot.ingest.fetch
from bot.errors import FeedFormatError, FetchError
from bot.ingest.fetch import USER_AGENT, FetchResult, fetch
from bot.ingest.sources import parse

Sleep = Callable[[float], None]
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
LAST_MODIFIED = "Mon, 27 Apr 2026 04:00:00 GMT"


@dataclass
class Seen:
    """What the server received, per path (query included)."""

    attempts: Counter[str] = field(default_factory=Counter)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


class Handler(BaseHTTPRequestHandler):
    seen: Seen
    arxiv_error: bytes

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.seen.attempts[self.path] += 1
        self.seen.headers[self.path] = dict(self.headers.items())
        route = urlsplit(self.path).path.strip("/")
        getattr(self, f"route_{route.replace('-', '_')}")()

    def send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_feed(self) -> None:
        if self.headers.get("If-None-Match") == '"v1"':
            self.send(304, ETag='"v1"')
        else:
            self.send(200, FEED, ETag='"v1"', Last_Modified=LAST_MODIFIED, Content_Type="application/rss+xml")

    def route_busy(self) -> None:
        if self.seen.attempts[self.path] == 1:
            self.send(429, b"slow down", Retry_After="7")
        else:
            self.send(200, FEED)

    def route_very_busy(self) -> None:
        self.send(429, b"", Retry_After="3600")

    def route_down(self) -> None:
        self.send(503, b"maintenance")

    def route_slow(self) -> None:
        time.sleep(1.0)
        self.send(200, FEED)

    def route_garbage(self) -> None:
        self.send(200, bytes(range(256)) * 4, Content_Type="application/octet-stream")

    def route_not_http(self) -> None:
        self.wfile.write(b"\x00\x01 this is not HTTP at all\r\n\r\n")

    def route_big(self) -> None:
        self.send(200, b"x" * 5000)

    def route_big_stream(self) -> None:
        self.send_response(200)
        self.end_headers()  # no Content-Length: the body runs until the connection closes
        self.wfile.write(b"x" * 5000)

    def route_missing(self) -> None:
        self.send(404, json.dumps({"error": "Paper not found"}).encode(), Content_Type="application/json")

    def route_arxiv_error(self) -> None:
        self.send(400, self.arxiv_error, Content_Type="application/atom+xml")

    def route_moved(self) -> None:
        self.send(301, Location="/feed")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature from the base class
        """Keep the test output quiet."""


class Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """The slow route writes to a client that gave up; that is expected."""


@dataclass
class Loopback:
    base: str
    seen: Seen

    def url(self, route: str, test: str) -> str:
        return f"{self.base}/{route}?test={test}"

    def attempts(self, route: str, test: str) -> int:
        return self.seen.attempts[f"/{route}?test={test}"]

    def headers(self, route: str, test: str) -> dict[str, str]:
        return self.seen.headers[f"/{route}?test={test}"]


@pytest.fixture(scope="module")
def server(feeds_dir: Path) -> Iterator[Loopback]:
    seen = Seen()
    handler = type(
        "BoundHandler",
        (Handler,),
        {
            "seen": seen,
            "arxiv_error": (
                feeds_dir / "arxiv_api_error_incorrect_id_http400_2026-04-12.atom.xml"
            ).read_bytes(),
        },
    )
    httpd = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Loopback(f"http://127.0.0.1:{httpd.server_address[1]}", seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def sleep(waits: list[float]) -> Sleep:
    return waits.append


def test_ok_with_validators_and_user_agent(server: Loopback, sleep: Sleep) -> None:
    result = fetch(server.url("feed", "ok"), sleep=sleep)
    assert result == FetchResult(
        not_modified=False,
        content=FEED,
        etag='"v1"',
        last_modified=LAST_MODIFIED,
        content_type="application/rss+xml",
        url=server.url("feed", "ok"),
    )
    sent = server.headers("feed", "ok")
    assert sent["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("paperbot/")
    assert USER_AGENT.endswith(" (+https://github.com/paperbot; research-paper digest)")
    assert server.attempts("feed", "ok") == 1


def test_conditional_get_gives_not_modified(server: Loopback, sleep: Sleep) -> None:
    result = fetch(server.url("feed", "304"), etag='"v1"', last_modified=LAST_MODIFIED, sleep=sleep)
    assert result.not_modified and result.content == b""
    assert (result.etag, result.last_modified) == ('"v1"', LAST_MODIFIED)
    sent = server.headers("feed", "304")
    assert (sent["If-None-Match"], sent["If-Modified-Since"]) == ('"v1"', LAST_MODIFIED)


def test_429_waits_as_told_then_succeeds(server: Loopback, sleep: Sleep, waits: list[float]) -> None:
    result = fetch(server.url("busy", "429"), sleep=sleep)
    assert result.content == FEED
    assert server.attempts("busy", "429") == 2
    assert waits == [7.0]


def test_retry_after_longer_than_the_cap_fails_at_once(server: Loopback, sleep: Sleep) -> None:
    with pytest.raises(FetchError, match=r"HTTP 429 Too Many Requests; the server asks to wait 3600 s"):
        fetch(server.url("very-busy", "cap"), sleep=sleep)
    assert server.attempts("very-busy", "cap") == 1


def test_503_backs_off_exponentially_then_fails(server: Loopback, sleep: Sleep, waits: list[float]) -> None:
    url = server.url("down", "503")
    with pytest.raises(FetchError) as raised:
        fetch(url, retries=3, sleep=sleep)
    assert raised.value.message == f"{url}: HTTP 503 Service Unavailable after 4 attempts"
    assert server.attempts("down", "503") == 4
    assert waits == [1.0, 2.0, 4.0]


@pytest.mark.slow  # waits out a timeout, twice
def test_slow_server_times_out(server: Loopback, sleep: Sleep, waits: list[float]) -> None:
    url = server.url("slow", "timeout")
    started = time.monotonic()
    with pytest.raises(FetchError) as raised:
        fetch(url, timeout=0.5, retries=1, sleep=sleep)
    assert raised.value.message == f"{url}: timed out after 0.5 s after 2 attempts"
    assert time.monotonic() - started < 1.9
    assert waits == [1.0]


def test_garbage_body_is_fetched_and_rejected_by_the_parser(server: Loopback, sleep: Sleep) -> None:
    result = fetch(server.url("garbage", "body"), sleep=sleep)
    assert len(result.content) == 1024
    with pytest.raises(FeedFormatError, match="neither XML nor JSON .*served as application/octet-stream"):
        parse(result.content, url=result.url, content_type=result.content_type)


def test_a_reply_that_is_not_http_is_retried_then_reported(server: Loopback, sleep: Sleep) -> None:
    with pytest.raises(FetchError, match=r"connection failed \(RemoteProtocolError: .*\) after 2 attempts"):
        fetch(server.url("not-http", "junk"), retries=1, sleep=sleep)
    assert server.attempts("not-http", "junk") == 2


@pytest.mark.parametrize("route", ["big", "big-stream"])
def test_body_over_the_limit_is_refused(route: str, server: Loopback, sleep: Sleep) -> None:
    with pytest.raises(FetchError, match="over the 1,000-byte limit; is it really a feed"):
        fetch(server.url(route, "size"), max_bytes=1000, sleep=sleep)
    assert server.attempts(route, "size") == 1


def test_404_is_not_retried_and_shows_the_servers_words(server: Loopback, sleep: Sleep) -> None:
    url = server.url("missing", "404")
    with pytest.raises(FetchError) as raised:
        fetch(url, sleep=sleep)
    said = "(the server said: Paper not found)"
    assert raised.value.message == f"{url}: HTTP 404 Not Found {said}; check the URL"
    assert server.attempts("missing", "404") == 1


def test_arxiv_400_carries_arxivs_error_text(server: Loopback, sleep: Sleep) -> None:
    said = r"\(the server said: incorrect id format for abc\)"
    with pytest.raises(FetchError, match=rf"HTTP 400 Bad Request {said}"):
        fetch(server.url("arxiv-error", "400"), sleep=sleep)


def test_redirects_are_followed(server: Loopback, sleep: Sleep) -> None:
    result = fetch(server.url("moved", "301"), sleep=sleep)
    assert result.content == FEED and result.url.endswith("/feed")


def test_refused_connection(sleep: Sleep, waits: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=r"connection failed \(ConnectError: .*\) after 3 attempts"):
        fetch(f"http://127.0.0.1:{port}/feed", retries=2, sleep=sleep)
    assert waits == [1.0, 2.0]


ARXIV_API = "https://export.arxiv.org/api/query?id_list=1"


def recording(seen: list[httpx.Request], response: httpx.Response) -> httpx.MockTransport:
    """A transport that records each request and answers with `response`."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return httpx.MockTransport(handle)


class FakeClock:
    def __init__(self, *times: float) -> None:
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0)


def test_arxiv_api_calls_are_spaced_three_seconds_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    fetch_module = bot.ingest.fetch
    monkeypatch.setattr(fetch_module, "_pacer", fetch_module._HostPacer(fetch_module.COURTESY_DELAYS))
    seen: list[httpx.Request] = []
    waits: list[float] = []
    clock = FakeClock(100.0, 100.5, 110.0)
    with httpx.Client(transport=recording(seen, httpx.Response(200))) as client:
        for _ in range(3):
            fetch(ARXIV_API, client=client, sleep=waits.append, clock=clock)
        fetch("https://rss.arxiv.org/rss/cs.LG", client=client, sleep=waits.append, clock=clock)
    # The 2nd call came 0.5 s after the 1st; the 3rd late enough; rss.arxiv.org is not paced.
    assert waits == [2.5]
    assert [request.url.host for request in seen] == ["export.arxiv.org"] * 3 + ["rss.arxiv.org"]


def test_a_callers_client_still_sends_our_headers() -> None:
    seen: list[httpx.Request] = []
    with httpx.Client(transport=recording(seen, httpx.Response(200, content=FEED))) as client:
        assert fetch("https://example.org/feed", client=client).content == FEED
    assert seen[0].headers["User-Agent"] == USER_AGENT


def test_retry_after_as_a_date(sleep: Sleep, waits: list[float]) -> None:
    replies = iter(
        [
            httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
            httpx.Response(200, content=FEED),
        ]
    )
    with httpx.Client(transport=httpx.MockTransport(lambda request: next(replies))) as client:
        assert fetch("https://example.org/feed", client=client, sleep=sleep).content == FEED
    assert waits == [0.0]  # a date in the past: retry at once


def test_local_path_and_file_url(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    by_path = fetch(str(path))
    assert by_path.content == FEED and not by_path.not_modified and by_path.content_type == "application/xml"
    assert by_path.url == str(path) and by_path.last_modified
    assert fetch(path.as_uri()).content == FEED
    again = fetch(str(path), last_modified=by_path.last_modified)
    assert again.not_modified and again.content == b""


def test_other_schemes_are_refused() -> None:
    with pytest.raises(FetchError, match="fetches http\\(s\\):// and file:// URLs, not ftp://"):
        fetch("ftp://example.org/feed.xml")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.xml"
    with pytest.raises(FetchError, match=f"{missing}: no such file; check the path"):
        fetch(str(missing))
    with pytest.raises(FetchError, match="is not a file"):
        fetch(str(tmp_path))


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(os.urandom(2000))
    with pytest.raises(FetchError, match="over the 1,000-byte limit"):
        fetch(str(path), max_bytes=1000)

"""Seed papers by arXiv id or DOI that are not stored are fetched from the arXiv API (`id_list`) or Crossref
(`/works/<doi>`), here a loopback server answering with the real arXiv responses in ../shared/data/feeds,
the real Crossref responses in tests/sources/data, and with 404, 500 and silence."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from bot.errors import NotFound, SourceError
from bot.service import Paperbot
from tests.factories import make_bot

CROSSREF = Path(__file__).parent / "data"
ID_LIST = "arxiv_api_id_list_2ids_2026-04.atom.xml"  # id_list=0808.05394,1707.08567: one entry, 1707.08567
EMPTY = "arxiv_api_empty_result_2026-04-12.atom.xml"


class ArxivServer(ThreadingHTTPServer):
    feeds: Path
    asked: list[str]


class Handler(BaseHTTPRequestHandler):
    server: ArxivServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        ids = parse_qs(url.query).get("id_list", [""])[0]
        self.server.asked.append(f"{url.path}?{ids}" if ids else url.path)
        match url.path.split("/")[1:3]:
            case ["api", "query"]:
                name = ID_LIST if ids == "1707.08567" else EMPTY
                status, body = 200, (self.server.feeds / name).read_bytes()
            case ["works", _]:  # Crossref: a DOI it does not know is a 404 with this text
                doi = unquote(url.path.removeprefix("/works/"))
                known = CROSSREF / f"crossref_work_{doi.replace('/', '_')}.json"
                status, body = (200, known.read_bytes()) if known.is_file() else (404, b"Resource not found.")
            case ["portal", _]:  # a captive portal or proxy answering in place of the API
                status, body = 200, b"<html><head><title>Sign in</title></head><body>Wi-Fi</body></html>"
            case ["broken", _]:
                status, body = 500, b"<html><body>Internal Server Error</body></html>"
            case ["slow", _]:
                time.sleep(1.0)
                status, body = 200, (self.server.feeds / ID_LIST).read_bytes()
            case _:
                status, body = 404, b"not here"
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # /slow: the client gave up
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status == 200 else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture
def arxiv(feeds_dir: Path) -> Iterator[ArxivServer]:
    httpd = ArxivServer(("127.0.0.1", 0), Handler)
    httpd.feeds, httpd.asked = feeds_dir, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def bot_at(
    tmp_path: Path, server: ArxivServer, arxiv: str = "/api/query", crossref: str = "/works"
) -> Paperbot:
    """A Paperbot whose arXiv API and Crossref are paths on the loopback server."""
    base = f"http://127.0.0.1:{server.server_address[1]}"
    return make_bot(
        tmp_path / "data", fetch_timeout=0.3, arxiv_api_url=base + arxiv, crossref_api_url=base + crossref
    )


def test_an_unstored_arxiv_id_is_fetched_stored_and_used(tmp_path: Path, arxiv: ArxivServer) -> None:
    bot = bot_at(tmp_path, arxiv)
    try:
        assert bot.fetch_seeds(["arXiv:1707.08567"]) == 1
        (listing,) = bot.listings()
        assert listing.arxiv_id == "1707.08567" and listing.title
        assert bot.fetch_seeds(["1707.08567", str(listing.id)]) == 0  # stored now: not fetched again
        assert arxiv.asked == ["/api/query?1707.08567"]
    finally:
        bot.close()


@pytest.mark.parametrize(
    ("seed", "says"),
    [
        ("2401.99999", r"'2401\.99999' is not in the database and was not found on arXiv"),
        ("10.9999/nowhere", r"'10\.9999/nowhere' is not in the database and Crossref does not know that DOI"),
    ],
)
def test_an_id_the_service_does_not_know_is_a_clear_not_found(
    tmp_path: Path, arxiv: ArxivServer, seed: str, says: str
) -> None:
    bot = bot_at(tmp_path, arxiv)
    try:
        view = bot.subscribe(email="a@example.org")
        with pytest.raises(NotFound, match=says):
            bot.add_interest(subscriber_id=view.id, seed_papers=[seed])
        assert bot.subscriber(subscriber_id=view.id).interests == () and bot.count_listings() == 0
    finally:
        bot.close()


WAITS = pytest.mark.slow  # waits out a fetch timeout, twice


@pytest.mark.parametrize(
    ("seed", "where", "says"),
    [
        ("1707.08567", {"arxiv": "/gone/api/query"}, "404"),
        ("1707.08567", {"arxiv": "/broken/api/query"}, "500"),
        pytest.param("1707.08567", {"arxiv": "/slow/api/query"}, "timed out", marks=WAITS),
        ("10.2196/22081", {"crossref": "/broken/works"}, "500"),
        pytest.param("10.2196/22081", {"crossref": "/slow/works"}, "timed out", marks=WAITS),
        ("10.2196/22081", {"crossref": "/portal"}, "HTML page"),
    ],
)
def test_a_failed_fetch_is_one_clear_error_and_changes_nothing(
    tmp_path: Path, arxiv: ArxivServer, seed: str, where: dict[str, str], says: str
) -> None:
    bot = bot_at(tmp_path, arxiv, **where)
    service = "arXiv" if "arxiv" in where else "Crossref"
    try:
        with pytest.raises(
            SourceError, match=rf"could not fetch seed paper '{seed}' from {service} \(.*{says}"
        ):
            bot.subscribe(email="a@example.org", seed_papers=[seed])
        assert bot.find_subscriber(email="a@example.org") is None and bot.count_listings() == 0
    finally:
        bot.close()


def test_an_unstored_doi_is_fetched_from_crossref_stored_and_used(tmp_path: Path, arxiv: ArxivServer) -> None:
    bot = bot_at(tmp_path, arxiv)
    try:
        assert bot.fetch_seeds(["https://doi.org/10.1177/02683962211048201"]) == 1
        (listing,) = bot.listings()
        assert listing.doi == "10.1177/02683962211048201"
        assert listing.title == "Artificial intelligence and the conduct of literature reviews"
        assert listing.abstract.startswith("Artificial intelligence (AI) is beginning to transform")
        assert listing.authors == ("Gerit Wagner", "Roman Lukyanenko", "Guy Paré")
        # resolve_seed (what an interest is made from) finds it by DOI now: not fetched again
        assert bot.fetch_seeds(["doi:10.1177/02683962211048201", str(listing.id)]) == 0
        assert arxiv.asked == ["/works/10.1177/02683962211048201"]
    finally:
        bot.close()


@pytest.mark.slow  # a paperbot process
def test_the_cli_says_in_one_line_that_crossref_does_not_know_a_doi(
    tmp_path: Path, arxiv: ArxivServer
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env |= {
        "PAPERBOT_DATA_DIR": str(tmp_path / "data"),
        "PAPERBOT_CROSSREF_API_URL": f"http://127.0.0.1:{arxiv.server_address[1]}/works",
    }
    paperbot = str(Path(sys.executable).with_name("paperbot"))
    args = ["subscribe", "--email", "a@example.org", "--seed-paper", "https://doi.org/10.9999/nowhere"]
    run = subprocess.run([paperbot, *args], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith(
        "Error: seed paper 'https://doi.org/10.9999/nowhere' is not in the database and Crossref does not "
        "know that DOI; check it"
    )
    assert run.stderr.count("\n") == 1  # one line
    assert arxiv.asked == ["/works/10.9999/nowhere"]
    bot = make_bot(tmp_path / "data")
    try:
        assert bot.find_subscriber(email="a@example.org") is None and bot.count_listings() == 0
    finally:
        bot.close()

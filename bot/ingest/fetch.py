"""Downloading feeds: the only place paperbot talks to feed servers (parsing lives in bot.ingest.sources).

`fetch()` reads a local path / file:// URL directly, or GETs an http(s) URL with a clear
User-Agent, conditional headers (ETag / Last-Modified, 304 gives `not_modified`), retries with
exponential backoff on timeouts, connection errors, 429 and 5xx (Retry-After honoured up to
60 s), a body-size cap and a per-host courtesy delay (arXiv's API asks for 3 s between calls).
Every failure is a `FetchError` whose message names the URL and what happened.
"""

from __future__ import annotations

import email.utils
import logging
import mimetypes
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from bot.errors import FetchError

__all__ = ["FetchResult", "fetch", "local_path", "USER_AGENT", "MAX_BYTES", "MAX_WAIT", "COURTESY_DELAYS"]

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("paperbot")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0"


USER_AGENT = f"paperbot/{_version()} (+https://github.com/paperbot; research-paper digest)"
MAX_BYTES = 50 * 1024 * 1024
MAX_WAIT = 60.0  # longest pause between attempts, whatever Retry-After says
COURTESY_DELAYS = {"export.arxiv.org": 3.0}  # seconds between requests, from the hosts' terms of use
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, "
    "application/json;q=0.9, text/xml;q=0.8, */*;q=0.5"
)
_ERROR_TEXT_RE = re.compile(r"<(?:summary|ERROR)[^>]*>(.*?)</(?:summary|ERROR)>", re.DOTALL)
_JSON_ERROR_RE = re.compile(r'"(?:error|message|detail)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_HINTS = {401: "; the server wants credentials", 403: "; the server refused access", 404: "; check the URL"}


@dataclass(frozen=True)
class FetchResult:
    """What a fetch returned. `content` is empty when `not_modified`; `url` is the final URL."""

    not_modified: bool
    content: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None
    url: str


def fetch(
    url_or_path: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    client: httpx.Client | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    max_bytes: int = MAX_BYTES,
) -> FetchResult:
    """Download `url_or_path`. `retries` is how many times a transient failure is retried (so at
    most retries + 1 attempts); `sleep` and `clock` are injectable so tests never really wait."""
    scheme = urlsplit(url_or_path).scheme.lower()
    if scheme not in ("http", "https"):
        if "://" in url_or_path and scheme != "file":
            raise FetchError(f"{url_or_path}: paperbot fetches http(s):// and file:// URLs, not {scheme}://")
        return _read_file(url_or_path, last_modified=last_modified, max_bytes=max_bytes)
    headers = {"User-Agent": USER_AGENT, "Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = _Request(url_or_path, headers, timeout, max_bytes)
    http = client or httpx.Client()
    try:
        return _with_retries(http, request, retries=retries, sleep=sleep, clock=clock)
    finally:
        if client is None:
            http.close()


@dataclass(frozen=True)
class _Request:
    url: str
    headers: dict[str, str]
    timeout: float
    max_bytes: int


class _Transient(Exception):
    """A failure worth another attempt; `retry_after` is the server's requested wait, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _with_retries(
    http: httpx.Client,
    request: _Request,
    *,
    retries: int,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> FetchResult:
    attempts = max(retries, 0) + 1
    host = urlsplit(request.url).hostname or ""
    for attempt in range(1, attempts + 1):
        _pacer.wait(host, clock=clock, sleep=sleep)
        try:
            return _attempt(http, request)
        except _Transient as exc:
            problem = exc
        if attempt == attempts:
            break
        backoff = min(2.0 ** (attempt - 1), MAX_WAIT)
        delay = backoff if problem.retry_after is None else problem.retry_after
        if delay > MAX_WAIT:
            raise FetchError(
                f"{request.url}: {problem.message}; the server asks to wait {delay:.0f} s (Retry-After), "
                f"longer than paperbot waits ({MAX_WAIT:.0f} s); try again later"
            )
        log.warning("%s: %s; retry %d of %d in %.1f s", request.url, problem.message, attempt, retries, delay)
        sleep(delay)
    plural = "attempt" if attempts == 1 else "attempts"
    raise FetchError(f"{request.url}: {problem.message} after {attempts} {plural}")


def _attempt(http: httpx.Client, request: _Request) -> FetchResult:
    url = request.url
    try:
        with http.stream(
            "GET", url, headers=request.headers, timeout=request.timeout, follow_redirects=True
        ) as response:
            return _response(response, request)
    except httpx.TimeoutException as exc:
        raise _Transient(f"timed out after {request.timeout:g} s") from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise _Transient(f"connection failed ({type(exc).__name__}: {exc})") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise FetchError(f"{url} is not a valid URL ({exc})") from exc


def _response(response: httpx.Response, request: _Request) -> FetchResult:
    status, url = response.status_code, request.url
    if status == 429 or status >= 500:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        raise _Transient(f"HTTP {status} {response.reason_phrase}", retry_after)
    if status >= 400:
        said = _server_said(_read_body(response, url, 65_536, truncate=True))
        raise FetchError(
            f"{url}: HTTP {status} {response.reason_phrase}{said}{_HINTS.get(status, '')}", http_status=status
        )
    not_modified = status == 304
    sent = request.headers
    # A 304 may omit the validators; the ones we sent are still current then.
    return FetchResult(
        not_modified=not_modified,
        content=b"" if not_modified else _read_body(response, url, request.max_bytes),
        etag=response.headers.get("ETag") or (sent.get("If-None-Match") if not_modified else None),
        last_modified=response.headers.get("Last-Modified")
        or (sent.get("If-Modified-Since") if not_modified else None),
        content_type=response.headers.get("Content-Type"),
        url=str(response.url),
    )


def _read_body(response: httpx.Response, url: str, max_bytes: int, *, truncate: bool = False) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(_too_large(url, f"{int(declared):,} bytes", max_bytes))
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                break
            raise FetchError(_too_large(url, f"more than {max_bytes:,} bytes", max_bytes))
    return b"".join(chunks)[:max_bytes]


def _too_large(url: str, size: str, max_bytes: int) -> str:
    return f"{url}: the response is {size}, over the {max_bytes:,}-byte limit; is it really a feed?"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _server_said(body: bytes) -> str:
    """The error text an API put in its body (arXiv's Atom summary, NCBI's <ERROR>, JSON "error")."""
    text = body.decode("utf-8", errors="replace")
    found = _ERROR_TEXT_RE.search(text) or _JSON_ERROR_RE.search(text)
    if not found:
        return ""
    message = " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())[:200]
    return f" (the server said: {message})" if message else ""


def local_path(spec: str) -> Path | None:
    """The file a path or file:// URL names; None for anything with another scheme (http, https)."""
    parts = urlsplit(spec)
    if parts.scheme.lower() == "file":
        return Path(url2pathname(parts.path))
    return None if "://" in spec else Path(spec).expanduser()


def _read_file(spec: str, *, last_modified: str | None, max_bytes: int) -> FetchResult:
    path = local_path(spec)
    assert path is not None  # fetch() sends only paths and file:// URLs here
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FetchError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        raise FetchError(f"{path}: cannot read it ({exc.strerror})") from exc
    if not path.is_file():
        raise FetchError(f"{path} is not a file; give the path of a feed file")
    modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
    content_type = mimetypes.guess_type(path.name)[0]
    if last_modified == modified:
        return FetchResult(True, b"", None, modified, content_type, spec)
    if stat.st_size > max_bytes:
        raise FetchError(_too_large(str(path), f"{stat.st_size:,} bytes", max_bytes))
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise FetchError(f"{path}: cannot read it ({exc.strerror})") from exc
    return FetchResult(False, content, None, modified, content_type, spec)


class _HostPacer:
    """Spaces requests to the hosts in COURTESY_DELAYS, across calls and threads.

    Each request reserves the next free slot for its host, so concurrent callers queue up
    instead of all waking at the same moment.
    """

    def __init__(self, delays: dict[str, float]) -> None:
        self._delays = delays
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str, *, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        delay = self._delays.get(host.lower())
        if not delay:
            return
        with self._lock:
            now = clock()
            start = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = start + delay
        if start > now:
            sleep(start - now)


_pacer = _HostPacer(COURTESY_DELAYS)

"""A project-owned fake of the Slack Web API: a real HTTP server on 127.0.0.1 (port chosen by the OS)
that records every request and answers the methods paperbot calls.

    with FakeSlack() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        slack.fail_next("chat.postMessage", status=429, retry_after=1)
        ...
        assert [c.body["channel"] for c in slack.calls("chat.postMessage")] == ["C1"]

Requests to /response/<id> stand for Slack's response_url hooks and are recorded the same way.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["FakeSlack", "Recorded", "BOT_USER_ID", "TEAM_ID"]

BOT_USER_ID = "UPAPERBOT"
TEAM_ID = "T0LAB"


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it; `body` merges query, form fields and a JSON body."""

    method: str  # Web API method such as "chat.postMessage", or "response" for response_url posts
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    answer: dict[str, Any]  # what the fake replied (e.g. the ts of a posted message)


@dataclass(frozen=True)
class _Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    """Start with `with FakeSlack() as slack:` or start()/stop(); `api_url` ends with /api/."""

    def __init__(self, *, user_tz: str = "Europe/Berlin") -> None:
        self.user_tz = user_tz
        self.real_names = {"U0ALICE": "Alice Liddell", "U0CAROL": "Carol Danvers"}  # users.info answers
        self.requests: list[Recorded] = []
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # a short poll interval keeps shutdown (once per test) quick
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- telling it what to do ----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The next `times` calls of `method` answer 429 (with retry_after), a 5xx status, or
        `{"ok": false, "error": error}`."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = {"ok": False, "error": error or ("ratelimited" if status == 429 else "fatal_error")}
        with self._lock:
            self._failures[method].extend(_Failure(status, body, headers) for _ in range(times))

    # ---- reading what happened ----------------------------------------------------------------

    def calls(self, method: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def wait_for(self, method: str, count: int = 1, *, timeout: float = 10.0) -> list[Recorded]:
        """Block until `method` was called `count` times (listeners run after the HTTP response)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(found := [r for r in self.requests if r.method == method]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({r.method for r in self.requests})
                    raise AssertionError(f"{method} called {len(found)} times, wanted {count}; saw {seen}")
                self._lock.wait(left)
            return found

    # ---- answering ----------------------------------------------------------------------------

    def _answer(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            queued = self._failures[method]
            if queued:
                failure = queued.popleft()
                return failure.status, failure.body, failure.headers
        handler = self._methods().get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, {"ok": True, **handler(body)}, {}

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": lambda b: {
                "url": "https://lab.slack.com/",
                "team": "Lab",
                "user": "paperbot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": "BPAPERBOT",
            },
            "chat.postMessage": lambda b: {"channel": b.get("channel"), "ts": self._next_ts(), "message": b},
            "chat.update": lambda b: {"channel": b.get("channel"), "ts": b.get("ts"), "text": b.get("text")},
            "chat.postEphemeral": lambda b: {"message_ts": self._next_ts()},
            "conversations.open": lambda b: {"channel": {"id": "D" + str(b.get("users", "X"))[1:]}},
            "views.open": lambda b: {"view": {"id": "V1", **_view(b)}},
            "views.update": lambda b: {"view": {"id": "V1", **_view(b)}},
            "views.publish": lambda b: {"view": {"id": "V2", **_view(b)}},
            "users.info": lambda b: {
                "user": {
                    "id": b.get("user"),
                    "team_id": TEAM_ID,
                    "name": str(b.get("user", "")).lower(),
                    "real_name": self.real_names.get(str(b.get("user")), ""),
                    "tz": self.user_tz,
                    "is_admin": False,
                    "profile": {
                        "real_name": self.real_names.get(str(b.get("user")), ""),
                        "display_name": self.real_names.get(str(b.get("user")), "").split(" ")[0],
                    },
                }
            },
            "response": lambda b: {},
        }

    def _parse(self, handler: BaseHTTPRequestHandler, raw: bytes) -> tuple[str, dict[str, Any]]:
        url = urlsplit(handler.path)
        body: dict[str, Any] = dict(parse_qsl(url.query))
        content_type = handler.headers.get("Content-Type", "")
        if raw and "json" in content_type:
            body.update(json.loads(raw))
        elif raw:
            body.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        return "response" if url.path.startswith("/response/") else url.path.removeprefix("/api/"), body

    def _record(
        self, handler: BaseHTTPRequestHandler, raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        method, body = self._parse(handler, raw)
        status, answer, headers = self._answer(method, body)
        with self._lock:
            path = urlsplit(handler.path).path
            self.requests.append(Recorded(method, path, dict(handler.headers.items()), body, status, answer))
            self._lock.notify_all()
        return status, answer, headers

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer, headers = fake._record(self, raw)
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return None

        return Handler


def _view(body: dict[str, Any]) -> dict[str, Any]:
    view = body.get("view", {})
    return json.loads(view) if isinstance(view, str) else dict(view)

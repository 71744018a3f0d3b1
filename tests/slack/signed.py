"""Genuinely signed Slack requests (slash commands, interactivity, events) sent over real HTTP.

Each body is signed with SignatureVerifier(secret).generate_signature over the exact bytes sent,
the way Slack signs them: `v0=` + HMAC-SHA256(secret, "v0:{timestamp}:{body}").
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.slack.fake_slack import TEAM_ID

__all__ = ["SECRET", "SlackSender"]

SECRET = "test-signing-secret-8f3a"


class SlackSender:
    """Posts to `url` (…/slack/events) as Slack would; `response_base` receives response_url posts."""

    def __init__(self, url: str, *, response_base: str, secret: str = SECRET) -> None:
        self.url, self.response_base, self.secret = url, response_base, secret
        self.http = httpx.Client(timeout=10)

    def close(self) -> None:
        self.http.close()

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        signed: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sent = {"Content-Type": content_type, **(headers or {})}
        if signed:
            signature = SignatureVerifier(secret or self.secret).generate_signature(timestamp=ts, body=body)
            sent |= {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(signature)}
        return self.http.post(self.url, content=body, headers=sent)

    def command(
        self, text: str, *, user: str = "U0ALICE", channel: str = "D0ALICE", **kw: Any
    ) -> httpx.Response:
        form = {
            "token": "legacy-unused",
            "team_id": TEAM_ID,
            "channel_id": channel,
            "user_id": user,
            "command": "/papers",
            "text": text,
            "response_url": f"{self.response_base}/response/{uuid.uuid4().hex}",
            "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
        }
        return self.post(urlencode(form).encode(), "application/x-www-form-urlencoded", **kw)

    def interaction(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded", **kw)

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> httpx.Response:
        envelope = {
            "token": "legacy-unused",
            "team_id": TEAM_ID,
            "api_app_id": "A0PAPERBOT",
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
            "event_time": int(time.time()),
            "event": event,
        }
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return self.post(json.dumps(envelope).encode(), "application/json", headers=headers)

    # ---- payload builders ---------------------------------------------------------------------

    def view_submission(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str = "U0ALICE"
    ) -> httpx.Response:
        """Submit `view` (as sent to views.open) with `values` as Slack's view.state.values."""
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "lab"},
            "user": {"id": user, "team_id": TEAM_ID},
            "api_app_id": "A0PAPERBOT",
            "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",  # Slack's is new each time
            "view": {**view, "id": "V1", "team_id": TEAM_ID, "state": {"values": values}},
        }
        return self.interaction(payload)

    def click(
        self, message: dict[str, Any], channel: str, action: dict[str, Any], *, user: str = "U0ALICE"
    ) -> httpx.Response:
        """A block_actions payload for a button in `message` (text, blocks, ts) posted in `channel`."""
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "lab"},
            "user": {"id": user, "team_id": TEAM_ID},
            "api_app_id": "A0PAPERBOT",
            "trigger_id": "trigger-click",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
            "channel": {"id": channel},
            "message": {"type": "message", "user": "UPAPERBOT", **message},
            "response_url": f"{self.response_base}/response/{uuid.uuid4().hex}",
            "actions": [{**action, "type": "button", "action_ts": str(time.time())}],
        }
        return self.interaction(payload)

    def home_click(self, action: dict[str, Any], *, user: str = "U0ALICE") -> httpx.Response:
        """A block_actions payload for a button on the App Home tab."""
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "lab"},
            "user": {"id": user, "team_id": TEAM_ID},
            "api_app_id": "A0PAPERBOT",
            "trigger_id": "trigger-home",
            "container": {"type": "view", "view_id": "V2"},
            "view": {"id": "V2", "type": "home", "blocks": []},
            "actions": [{"type": "button", "block_id": "home", "action_ts": str(time.time()), **action}],
        }
        return self.interaction(payload)

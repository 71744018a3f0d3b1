"""A real SMTP server on loopback for tests: aiosmtpd in this process, recording what it accepts.

with SmtpServer() as server:                   # listening on 127.0.0.1:<free port>
    server.fail_first = 2                      # answer DATA with 451 twice, then accept
    server.reject = "550 5.1.1 No such user"   # or refuse every recipient for good
    server.drop_first = 1                      # or drop the connection mid-DATA once, then accept
with SmtpServer(smtputf8=True) as server:     # offer SMTPUTF8 (addresses beyond ASCII)
with SmtpServer(hold_after=10) as server:      # accept 10 recipients, hold the 11th RCPT ...
    server.hold_after = 25                     # ... until raised (math.inf: hold nothing)
server = SmtpServer(); server.port             # down: the port is chosen but nobody listens
server.start()                                 # ... and now it is up on that port
"""

from __future__ import annotations

import asyncio
import math
import socket
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["Received", "SmtpServer"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: str  # client address:port, one per connection

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.server.reject:
            return self.server.reject
        self.server.held += 1
        while self.server.passed >= self.server.hold_after:
            if smtp.transport is None or smtp.transport.is_closing():
                # The client died while held (kill -9): its RCPT must not count as let through.
                self.server.held -= 1
                return "421 4.4.2 Connection gone"
            await asyncio.sleep(0.01)
        self.server.held -= 1
        self.server.passed += 1
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        self.server.data_attempts += 1
        if self.server.data_attempts <= self.server.drop_first:
            assert isinstance(smtp.transport, asyncio.Transport)
            smtp.transport.abort()  # the message was sent but never acknowledged: the link died
            return "421 4.4.2 Connection dropped"
        if self.server.data_attempts <= self.server.fail_first:
            return self.server.temporary_reply
        content = envelope.original_content or b""
        self.server.received.append(
            Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(content), str(session.peer))
        )
        return "250 OK: queued"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # aiosmtpd connects to self.port to finish starting; with port 0 it must learn the real one first.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """Records accepted messages; can answer 4xx for (or drop the connection during) the first N DATA
    commands, reject recipients,
    require AUTH, or be down (not started) and come up later on the same port. With `hold_after` it
    lets that many recipients through and holds each further RCPT (the client waits for the reply)
    until the limit is raised."""

    def __init__(
        self, *, login: tuple[str, str] | None = None, hold_after: float = math.inf, smtputf8: bool = False
    ) -> None:
        self.port = _free_port()
        self.smtputf8 = smtputf8  # offer SMTPUTF8, for addresses beyond ASCII
        self.received: list[Received] = []
        self.data_attempts = 0
        self.fail_first = 0
        self.drop_first = 0
        self.temporary_reply = "451 4.3.0 Try again later"
        self.reject: str | None = None
        self.logins: list[str] = []
        self.hold_after = hold_after  # recipients let through before RCPTs are held
        self.passed = 0  # recipients let through
        self.held = 0  # RCPTs waiting for hold_after to rise
        self._login = login
        self._controller: _Controller | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self._login == (user, password)
        if ok:
            self.logins.append(user)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535 itself

    def start(self) -> SmtpServer:
        extra: dict[str, Any] = {"enable_SMTPUTF8": self.smtputf8}
        if self._login:
            extra |= {"authenticator": self._authenticate, "auth_require_tls": False, "auth_required": True}
        self._controller = _Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **extra)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def settings(self) -> dict[str, Any]:
        """Settings overrides that point paperbot at this server (plain SMTP on loopback)."""
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_starttls": False}

"""SMTP delivery against a real server on loopback: retries, permanent failures, reuse, login."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.channels.email.smtp import SmtpSender
from bot.channels.email.wire import envelope, wire_bytes
from bot.config import Settings, load_settings
from bot.errors import DeliveryError, TemporaryDeliveryError
from tests.smtp import SmtpServer


def settings_for(server: SmtpServer, tmp_path: Path, **extra: object) -> Settings:
    return load_settings(data_dir=tmp_path, **{**server.settings(), **extra})


def message(n: int = 1) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "paperbot <d@example.org>", "ada@example.org", f"digest {n}"
    msg["Message-ID"] = f"<digest.{n}@example.org>"
    msg.set_content("Hello ✓ — three papers today.")
    return msg


def test_sends_the_message_bytes(smtp: SmtpServer, tmp_path: Path) -> None:
    with SmtpSender(settings_for(smtp, tmp_path)) as sender:
        assert sender.send(message()) == "<digest.1@example.org>"
    (got,) = smtp.received
    assert got.rcpt_tos == ("ada@example.org",)
    assert got.message["Subject"] == "digest 1"
    assert got.message.get_content().strip() == "Hello ✓ — three papers today."


def test_the_relay_gets_the_wire_bytes_and_8bit_bodies_stay_8bit(smtp: SmtpServer, tmp_path: Path) -> None:
    sent = message()
    assert sent["Content-Transfer-Encoding"] == "8bit"
    with SmtpSender(settings_for(smtp, tmp_path)) as sender:
        sender.send(sent)
    (got,) = smtp.received
    assert got.data == wire_bytes(sent) == sent.as_bytes(policy=sent.policy.clone(linesep="\r\n"))
    assert "Hello ✓".encode() in got.data


def test_an_address_beyond_ascii_goes_out_with_smtputf8(tmp_path: Path) -> None:
    sent = message()
    sent.replace_header("To", "zoë@example.org")
    with SmtpServer(smtputf8=True) as server, SmtpSender(settings_for(server, tmp_path)) as sender:
        sender.send(sent)
    (got,) = server.received
    assert got.rcpt_tos == ("zoë@example.org",)
    assert got.message["To"] == "zoë@example.org"


def test_shapes_the_wire_does_not_write_are_refused_not_sent_differently() -> None:
    blind = message()
    blind["Bcc"] = "hidden@example.org"
    with pytest.raises(ValueError, match="Bcc"):
        envelope(blind)
    mixed = message()
    mixed.add_attachment(b"%PDF", maintype="application", subtype="pdf")
    mixed.set_boundary("b")
    mixed.preamble = "This is a MIME message."
    with pytest.raises(ValueError, match="preamble"):
        wire_bytes(mixed)
    mixed.preamble = None
    assert wire_bytes(mixed) == mixed.as_bytes(policy=mixed.policy.clone(linesep="\r\n"))


def test_temporary_replies_are_retried_with_backoff(smtp: SmtpServer, tmp_path: Path) -> None:
    smtp.fail_first = 2
    slept: list[float] = []
    with SmtpSender(settings_for(smtp, tmp_path), sleep=slept.append) as sender:
        sender.send(message())
    assert slept == [2.0, 4.0]
    assert smtp.data_attempts == 3 and len(smtp.received) == 1


def test_gives_up_after_the_last_attempt_with_a_temporary_error(smtp: SmtpServer, tmp_path: Path) -> None:
    smtp.fail_first, smtp.temporary_reply = 99, "421 4.7.0 Too busy, come back later"
    with pytest.raises(TemporaryDeliveryError, match="421 4.7.0 Too busy.*after 4 attempts"):
        SmtpSender(settings_for(smtp, tmp_path), sleep=lambda _s: None).send(message())
    assert smtp.received == []


def test_permanent_rejection_is_not_retried_and_names_the_reason(smtp: SmtpServer, tmp_path: Path) -> None:
    smtp.reject = "550 5.1.1 <ada@example.org>: mailbox unavailable"
    slept: list[float] = []
    with pytest.raises(DeliveryError) as caught:
        SmtpSender(settings_for(smtp, tmp_path), sleep=slept.append).send(message())
    assert not isinstance(caught.value, TemporaryDeliveryError)
    assert "550 5.1.1 <ada@example.org>: mailbox unavailable" in caught.value.message
    assert slept == []


def test_server_down_then_up_delivers_exactly_once(tmp_path: Path) -> None:
    server = SmtpServer()  # port chosen, nobody listening: connections are refused

    def sleep(_seconds: float) -> None:
        server.start()  # the server comes back while we wait

    try:
        with SmtpSender(settings_for(server, tmp_path), sleep=sleep) as sender:
            sender.send(message())
        assert len(server.received) == 1
    finally:
        server.stop()


def test_server_down_for_good_is_a_temporary_error(tmp_path: Path) -> None:
    down = SmtpServer()
    with pytest.raises(TemporaryDeliveryError, match="could not reach the mail server 127.0.0.1"):
        SmtpSender(settings_for(down, tmp_path), sleep=lambda _s: None).send(message())


def test_one_connection_serves_a_batch_and_a_dropped_one_is_reopened(
    smtp: SmtpServer, tmp_path: Path
) -> None:
    slept: list[float] = []
    with SmtpSender(settings_for(smtp, tmp_path), sleep=slept.append) as sender:
        sender.send(message(1))
        sender.send(message(2))
        smtp.stop()  # the server restarts while we are idle: our open connection is dead
        smtp.start()
        sender.send(message(3))
    assert [r.message["Subject"] for r in smtp.received] == ["digest 1", "digest 2", "digest 3"]
    assert len({r.peer for r in smtp.received}) == 2  # one connection, then one reconnect
    assert slept == []


# aiosmtpd warns about its own AUTH-without-TLS test setup and its own deprecated login_data.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
def test_login_when_a_user_is_configured(tmp_path: Path) -> None:
    with SmtpServer(login=("paperbot", "s3cret")) as server:
        good = settings_for(server, tmp_path, smtp_user="paperbot", smtp_password="s3cret")
        with SmtpSender(good) as sender:
            sender.send(message())
        assert server.logins == ["paperbot"] and len(server.received) == 1
        bad = settings_for(server, tmp_path, smtp_user="paperbot", smtp_password="wrong")
        with pytest.raises(DeliveryError, match="rejected the login .*PAPERBOT_SMTP_PASSWORD"):
            SmtpSender(bad, sleep=lambda _s: None).send(message())


def test_starttls_required_but_not_offered_says_what_to_set(smtp: SmtpServer, tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="PAPERBOT_SMTP_STARTTLS=false"):
        SmtpSender(settings_for(smtp, tmp_path, smtp_starttls=True)).send(message())


def test_no_host_configured(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="PAPERBOT_SMTP_HOST"):
        SmtpSender(load_settings(data_dir=tmp_path))

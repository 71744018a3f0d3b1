"""The file outbox: the embedded default when no SMTP server is configured."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from bot.channels.email.outbox import write_outbox


def mail(html: str | None = "<p>Hello &amp; welcome 🚀</p>") -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "3 new papers: protein design"
    message.set_content("Hello & welcome 🚀")
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def test_writes_eml_and_html_and_returns_the_eml_path(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    path = write_outbox(mail(), outbox_dir=outbox, name="12-2026-11-23")
    assert path == outbox / "12-2026-11-23.eml"
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "3 new papers: protein design"
    assert (outbox / "12-2026-11-23.html").read_text(
        encoding="utf-8"
    ).strip() == "<p>Hello &amp; welcome 🚀</p>"
    assert sorted(p.name for p in outbox.iterdir()) == [
        "12-2026-11-23.eml",
        "12-2026-11-23.html",
    ]  # no temp files


def test_rewriting_replaces_and_text_only_mail_has_no_html_file(tmp_path: Path) -> None:
    write_outbox(mail(), outbox_dir=tmp_path, name="d")
    write_outbox(mail(html=None), outbox_dir=tmp_path, name="t")
    write_outbox(mail("<p>second</p>"), outbox_dir=tmp_path, name="d")
    assert "second" in (tmp_path / "d.html").read_text()
    assert not (tmp_path / "t.html").exists()

"""The embedded default when no SMTP server is configured: each digest becomes files in the outbox.

`<outbox>/<name>.eml` is the complete message (open it in any mail client); `<name>.html` is its HTML
part, to look at in a browser.
"""

from __future__ import annotations

import os
import tempfile
from email.message import EmailMessage
from pathlib import Path

__all__ = ["write_outbox"]


def _write_atomic(path: Path, data: bytes) -> None:
    # A reader (or a second run) never sees half a file: write beside the target, then rename.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outbox(message: EmailMessage, *, outbox_dir: Path, name: str) -> Path:
    """Write `name`.eml (and `name`.html when the message has an HTML part); returns the .eml path."""
    outbox_dir.mkdir(parents=True, exist_ok=True)
    eml = outbox_dir / f"{name}.eml"
    _write_atomic(eml, message.as_bytes())
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        _write_atomic(outbox_dir / f"{name}.html", str(html.get_content()).encode("utf-8"))
    return eml

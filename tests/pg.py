"""A throwaway PostgreSQL server for the test run: Debian's binaries, started as the postgres user."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["postgres_bin", "running_postgres"]


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(args: list[str]) -> list[str]:
    # The server refuses to run as root; Debian's packages create the postgres user for it.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


# Runs beside the test process and stops the cluster once that process is gone, however it ended
# (Ctrl-C, SIGTERM from a CI timeout, SIGKILL): a normal exit stops it first and ends the guard.
_GUARD = """
import os, shutil, subprocess, sys, time
parent, root, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(0.2)
subprocess.run(stop, capture_output=True)
shutil.rmtree(root, ignore_errors=True)
"""


@contextmanager
def running_postgres(bindir: Path) -> Iterator[str]:
    """Start a private cluster on a free loopback port; yields a URL of its `postgres` database.
    The cluster is stopped and removed when the block ends, or when this process dies."""
    root = Path(tempfile.mkdtemp(prefix="paperbot-pg-"))
    data, port = root / "data", _free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run(
        _as_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        ),
        **run,
    )  # type: ignore[call-overload]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_owner(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"]
        ),
        **run,
    )  # type: ignore[call-overload]
    stop = _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
    guard = subprocess.Popen(
        [sys.executable, "-c", _GUARD, str(os.getpid()), str(root), *stop], start_new_session=True
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        guard.kill()
        guard.wait()
        subprocess.run(stop, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

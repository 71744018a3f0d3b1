"""tests/pg.py itself: the private PostgreSQL server does not outlive a test run that is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.pg import postgres_bin

HOLD = """
import sys, time
from pathlib import Path
from tests.pg import running_postgres
with running_postgres(Path(sys.argv[1])) as url:
    print(url, flush=True)
    time.sleep(600)
"""


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.slow  # starts and kills a PostgreSQL cluster per case
def test_the_server_stops_when_the_test_process_is_killed(how: signal.Signals) -> None:
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found")
    command = [sys.executable, "-c", HOLD, str(bindir)]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None
        port = int(holder.stdout.readline().rsplit(":", 1)[1].split("/")[0])
        assert accepts(port)
        os.kill(holder.pid, how)
        holder.wait(timeout=30)
    deadline = time.monotonic() + 30
    while accepts(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not accepts(port), "the PostgreSQL server outlived the killed test process"

"""One scheduler per database: a leader lock held for the life of the process.

    PostgreSQL  `pg_try_advisory_lock` on a dedicated connection. Advisory locks are per database and
                die with their session, so a killed leader frees the lock as soon as its connection
                goes away.
    SQLite      an exclusive `fcntl.flock` on `<database file>.scheduler.lock`, beside the database
                (in the data dir by default). The kernel drops it when the process dies, even on
                `kill -9`. Keying the lock to the database file, not the data dir, keeps two data dirs
                that point at one DATABASE_URL from both scheduling.

`try_acquire` never blocks: a follower calls it again every few seconds and takes over when it wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

__all__ = ["LeaderLock", "FileLock", "PostgresLock", "leader_lock", "LOCK_KEY"]

# "paperbot" in ASCII, as a signed 64-bit advisory lock key.
LOCK_KEY = int.from_bytes(b"paperbot", "big") & 0x7FFF_FFFF_FFFF_FFFF


class LeaderLock(Protocol):
    description: str

    def try_acquire(self) -> bool:
        """Take the lock if it is free (or already ours); never waits."""

    def still_held(self) -> bool:
        """False when a lock we held was lost (for PostgreSQL: the connection broke)."""

    def release(self) -> None:
        """Give the lock up; safe to call when not held."""


class FileLock:
    """flock on a file; the lock lives as long as the open file descriptor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file lock {path}"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for people: which process leads
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class PostgresLock:
    """A session-level advisory lock on a connection of its own (never returned to a pool)."""

    def __init__(self, engine: Engine) -> None:
        self.description = f"PostgreSQL advisory lock {LOCK_KEY} on {engine.url.database}"
        self._engine = create_engine(engine.url, poolclass=NullPool)
        self._conn: Connection | None = None
        self._mutex = threading.Lock()  # the health check and the retry job share the connection

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._conn is not None:
                return self._alive()
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                query = text("SELECT pg_try_advisory_lock(:key)")
                won = bool(conn.execute(query, {"key": LOCK_KEY}).scalar())
            except BaseException:
                conn.close()
                raise
            if won:
                # A leader machine that vanishes without closing its connection (power loss, network
                # cut) would hold the lock until the server notices; keepalives make that about a
                # minute instead of the operating system's default of two hours.
                for setting, value in (("idle", 30), ("interval", 10), ("count", 3)):
                    conn.execute(text(f"SET tcp_keepalives_{setting} = {value}"))
                self._conn = conn
            else:
                conn.close()
            return won

    def still_held(self) -> bool:
        with self._mutex:
            return self._conn is not None and self._alive()

    def _alive(self) -> bool:
        # While its session lives the lock cannot be lost; a broken connection (server restart,
        # network) means another process may hold it now.
        assert self._conn is not None
        try:
            self._conn.execute(text("SELECT 1"))
        except DBAPIError:
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(DBAPIError):  # already broken; closing is best effort
                conn.close()

    def release(self) -> None:
        with self._mutex:
            if self._conn is not None:
                with contextlib.suppress(DBAPIError):  # the session is gone, and the lock with it
                    self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            self._drop()
            self._engine.dispose()


def leader_lock(engine: Engine, data_dir: Path) -> LeaderLock:
    """The lock that fits the database behind `engine`."""
    if engine.dialect.name == "postgresql":
        return PostgresLock(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        return FileLock(data_dir / "scheduler.lock")
    return FileLock(Path(database).with_name(Path(database).name + ".scheduler.lock"))

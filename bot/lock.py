"""One daemon per ledger: a lock that the kernel (SQLite) or the server (PostgreSQL) releases
when its holder dies, so there are no stale lock files to clean up."""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.engine import try_daemon_lock
from bot.errors import ConfigError, StoreError
from bot.store_base import reason

__all__ = ["DaemonLock", "ServerLock", "daemon_lock", "lock_path"]

_APP_PREFIX = "bot run: "  # PostgreSQL application_name of the lock's connection


def daemon_lock(database_url: str) -> AbstractContextManager:
    """The lock for a daemon on this ledger: flock beside a SQLite file, an advisory lock on
    PostgreSQL. Entering it raises ConfigError (exit 2) naming the daemon that holds it."""
    path = lock_path(database_url)
    if path is not None:
        return DaemonLock(path, database_url)
    if make_url(database_url).get_backend_name() == "postgresql":
        return ServerLock(database_url)
    raise ConfigError(f"bot run needs a SQLite file or PostgreSQL database, not {database_url}")


def _refusal(holder: str, database: str) -> ConfigError:
    return ConfigError(
        f"another bot run ({holder}) is already running on {database}; "
        "stop it first, or give this one its own database"
    )


def lock_path(database_url: str) -> Path | None:
    """The lock file beside a SQLite database file; None for an in-memory or server database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).with_name(Path(url.database).name + ".lock")


class DaemonLock:
    """`flock` on `<database>.lock`: a second holder is refused; a crash leaves no stale lock.

    The file itself may stay behind; only the kernel's lock on it counts, and the kernel drops
    that lock when the process exits, however it exits. The file holds the holder's pid so the
    refusal can name it.
    """

    def __init__(self, path: Path, database: str):
        self.path = path
        self.database = database
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ConfigError naming the process that holds it (exit 2)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise _refusal(f"pid {holder}", self.database) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class ServerLock:
    """A PostgreSQL session advisory lock, held by one dedicated connection for the daemon's life.

    The server drops it when that connection ends (exit, kill, network loss). Its
    application_name, "bot run: pid N on HOST", lets a refused second daemon name the first.
    """

    def __init__(self, database: str):
        url = make_url(database)
        self.database = url.render_as_string(hide_password=True)
        name = f"{_APP_PREFIX}pid {os.getpid()} on {socket.gethostname()}"
        self._engine = create_engine(
            url, poolclass=NullPool, connect_args={"application_name": name[:63]}
        )
        self._conn = None

    def __enter__(self) -> ServerLock:
        try:
            conn = self._engine.connect()
            holder = try_daemon_lock(conn)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(f"cannot open database {self.database}: {reason(exc)}") from None
        if holder is not None:
            conn.close()
            self._engine.dispose()
            raise _refusal(holder.removeprefix(_APP_PREFIX), self.database)
        self._conn = conn
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()  # ends the session, and with it the lock
            self._conn = None
        self._engine.dispose()

"""One daemon per SQLite ledger, one leader per PostgreSQL ledger: locks that the kernel or the
server releases when their holder dies, so there are no stale lock files to clean up."""

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

from bot.errors import ConfigError, StoreError
from bot.ledger.db import parse_database, try_daemon_lock
from bot.ledger.handle import reason

__all__ = ["DaemonLock", "Leadership", "daemon_lock", "lock_path"]

_APP_PREFIX = "bot run: "  # PostgreSQL application_name of the lock's connection


def daemon_lock(database_url: str) -> AbstractContextManager:
    """The lock for a daemon on this ledger. SQLite: flock beside the file; entering it raises
    ConfigError (exit 2) naming the daemon that holds it. PostgreSQL: a `Leadership`, which
    daemons share and take turns to hold (SPEC section 8)."""
    url = parse_database(database_url)  # a bad URL or a missing driver: one line, no traceback
    path = lock_path(database_url)
    if path is not None:
        return DaemonLock(path, database_url)
    if url.get_backend_name() == "postgresql":
        return Leadership(database_url)
    shown = url.render_as_string(hide_password=True)
    raise ConfigError(f"bot run needs a SQLite file or PostgreSQL database, not {shown}")


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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(
                f"cannot create the lock file {self.path}: {exc.strerror or exc}"
                " (bot run writes beside its database: make that folder writable)"
            ) from None
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


class Leadership:
    """PostgreSQL: the ledger's leader lock, a session advisory lock on one dedicated connection.

    SPEC section 8: daemons sharing a PostgreSQL ledger take turns to lead. `try_lead` never
    waits: it keeps the lock if held (checking that its connection is alive) or tries to take it.
    The server drops the lock when the holder's connection ends (exit, kill, network loss). Its
    application_name, "bot run: pid N on HOST", lets a standby say who leads.
    """

    def __init__(self, database: str):
        url = make_url(database)
        self.database = url.render_as_string(hide_password=True)
        name = f"{_APP_PREFIX}pid {os.getpid()} on {socket.gethostname()}"
        # libpq keepalives: a leader whose connection silently died (half-open TCP) finds out in
        # about half a minute instead of the kernel's two hours, and so does its `SELECT 1`.
        alive = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5}
        self._engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args={
                "application_name": name[:63],
                "connect_timeout": 10,
                **alive,
                "keepalives_count": 3,
            },
        )
        self._conn = None
        self.why = "not tried yet"

    def try_lead(self) -> bool:
        """True while this process leads; `why` says what stands in the way when it does not."""
        try:
            if self._conn is not None:
                self._conn.exec_driver_sql("SELECT 1")
                self._conn.commit()
                return True
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            self._drop()
            self.why = f"database {self.database} failed: {reason(exc)}"
            return False
        try:
            holder = try_daemon_lock(conn)
        except SQLAlchemyError as exc:
            conn.close()
            self.why = f"database {self.database} failed: {reason(exc)}"
            return False
        if holder is not None:
            conn.close()
            self.why = f"{holder.removeprefix(_APP_PREFIX)} leads"
            return False
        self._conn = conn
        return True

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # ends the session, and with it the lock
            except SQLAlchemyError:
                pass
            self._conn = None

    def __enter__(self) -> Leadership:
        return self

    def __exit__(self, *exc: object) -> None:
        self._drop()
        self._engine.dispose()

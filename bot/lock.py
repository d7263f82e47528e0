"""One daemon per database: an OS lock that the kernel releases when its holder dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.errors import ConfigError

__all__ = ["DaemonLock", "lock_path"]


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
            raise ConfigError(
                f"another bot run (pid {holder}) is already running on {self.database}; "
                "stop it first, or give this one its own database"
            ) from None
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

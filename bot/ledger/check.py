"""`bot check` on the ledger: can this user open, write and read the database the settings name?

Connects to no server and creates nothing; a SQLite file is read (read-only) to see it is sound.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from bot.errors import ConfigError
from bot.ledger.db import parse_database, sqlite_file

__all__ = ["check_database"]


def check_database(database: str, where: str = "") -> None:
    """Raise ConfigError when the ledger at `database` cannot be opened here: a malformed URL, a
    driver that is not installed, or (SQLite) a file or folder this user cannot write, or a file
    that is not a sound SQLite database.

    Creates nothing and connects to no server (`bot check`); `where` prefixes the line.
    """
    try:
        url = parse_database(database)
    except ConfigError as exc:
        raise ConfigError([where + line for line in exc.problems]) from None
    shown = url.render_as_string(hide_password=True)
    path = sqlite_file(url)
    if path is None:
        return
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise ConfigError(f"{where}database {shown}: this user cannot read and write {path}")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise ConfigError(
                f"{where}database {shown}: folder {path.parent} is not writable (SQLite writes"
                " its -wal and -shm files beside the database: make the folder writable)"
            )
        if problem := _sqlite_file_problem(path):
            raise ConfigError(f"{where}database {shown}: {path} {problem}")
        return
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{where}database {shown}: cannot create {path}: folder {folder} is not writable"
        )


def _sqlite_file_problem(path: Path) -> str | None:
    """Why the SQLite file at `path` cannot serve as the ledger, or None (an empty file is a new
    database). Reads only: PRAGMA quick_check reads every page (sqlite.org/pragma.html)."""
    if path.stat().st_size == 0:
        return None
    fix = "restore it from a backup, or move it away and bot starts a new, empty ledger"
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
            found = [" ".join(row[0].split()) for row in conn.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            return f"is not a SQLite database ({fix})"
        return f"cannot be read: {exc} ({fix})"
    if found != ["ok"]:
        return f"is damaged: {'; '.join(found)} ({fix})"
    return None

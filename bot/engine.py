"""Opening the ledger's database and the transactions on it, for SQLite and PostgreSQL alike.

A new SQLite file is created 0600; SQLite runs in WAL with BEGIN IMMEDIATE for writes; PostgreSQL
serialises what must be serial with advisory locks. Used by the store modules only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, Table, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.errors import ConfigError
from bot.migrations import migrate
from bot.schema import metadata

__all__ = [
    "RECORD_LOCK",
    "open_engine",
    "transaction",
    "lock",
    "insert_if_absent",
    "try_daemon_lock",
    "check_database",
    "missing_driver",
]

# pg_advisory_xact_lock keys: fixed numbers spelled in ASCII, recognisable in pg_locks.
RECORD_LOCK = int.from_bytes(b"bot:rec", "big")
_SCHEMA_LOCK = int.from_bytes(b"bot:ddl", "big")
_IMMEDIATE = "bot_begin_immediate"  # execution option read by the SQLite "begin" hook
_BUSY_TIMEOUT_MS = 30_000


def open_engine(url: URL) -> Engine:
    """An engine with every table created and every migration (bot.migrations) run. A new SQLite
    file (and its folder) is created 0600 first.

    Raises OSError when the SQLite file or folder cannot be created, SQLAlchemyError otherwise.
    """
    if url.get_backend_name() == "sqlite":
        _create_sqlite_file(url.database)
        engine = create_engine(url)
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)  # a daemon outlives server restarts
    try:
        with transaction(engine, immediate=True) as conn:
            lock(conn, _SCHEMA_LOCK)  # two processes starting at once must not both CREATE
            metadata.create_all(conn)
            migrate(conn, insert_if_absent)  # a ledger of an earlier version, once
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextmanager
def transaction(engine: Engine, *, immediate: bool) -> Iterator[Connection]:
    """One transaction; `immediate` (for writes) takes SQLite's write lock at BEGIN."""
    with engine.connect() as conn:
        conn.execution_options(**{_IMMEDIATE: immediate})
        with conn.begin():
            yield conn


def lock(conn: Connection, key: int) -> None:
    """Serialize with every other transaction taking `key`, until this one ends.

    SQLite needs nothing: a write transaction already holds the database's only write lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(key)))


def insert_if_absent(conn: Connection, table: Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the connection's dialect (DESIGN.md pitfalls)."""
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    return dialect.insert(table).on_conflict_do_nothing()


def _create_sqlite_file(database: str | None) -> None:
    """Create the database file 0600 (and its folder) before SQLite creates it world-readable.

    RELIABILITY.md finding 12: under umask 022 SQLite creates 0644, and -wal/-shm take the
    database file's mode, so creating the file first protects all three. An existing file is kept.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot create folder {path.parent}: {exc.strerror}") from exc
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and SQLAlchemy-emitted BEGIN (IMMEDIATE for writes).

    The sqlite3 driver's own BEGIN is deferred, so two writers could both read "unknown", then
    collide on the write. This is SQLAlchemy's documented recipe for taking over BEGIN ("Enabling
    Non-Legacy SQLite Transactional Modes", dialects/sqlite), with IMMEDIATE added for writes.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 must not emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a commit survives a process kill (RELIABILITY K1) without an fsync each;
        # a power cut can drop the last commits, but WAL keeps their order, so the ledger comes
        # back as an earlier consistent state and mail is at worst sent again, never lost.
        # (sqlite.org/pragma.html#pragma_synchronous.) FULL costs ~4 ms per commit here: two
        # commits per email would cap sending near 100 emails/s.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# The daemon's lock on a PostgreSQL ledger: (key1, key2) = ("bot:", hash of the schema), so one
# daemon per ledger (database + schema), not per server. A session-level advisory lock is held by
# one connection and the server drops it when that connection ends, however it ends.
_DAEMON_LOCK_CLASS = int.from_bytes(b"bot:", "big", signed=True)


def try_daemon_lock(conn: Connection) -> str | None:
    """Take the daemon lock of this PostgreSQL ledger on `conn`: None, or who holds it already.

    The holder is named by its connection's application_name (see lock.ServerLock).
    """
    schema_key = func.hashtext(func.coalesce(func.current_schema(), ""))
    if conn.scalar(select(func.pg_try_advisory_lock(_DAEMON_LOCK_CLASS, schema_key))):
        conn.commit()  # the lock is the session's; no transaction may stay open for months
        return None
    holder = conn.scalar(
        text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
            " AND l.classid::bigint = :cls"
            " AND l.objid::bigint = (hashtext(coalesce(current_schema(), ''))::bigint & 4294967295)"
            " LIMIT 1"
        ),
        {"cls": _DAEMON_LOCK_CLASS & 0xFFFFFFFF},
    )
    conn.rollback()
    return holder or "unknown"


def missing_driver(shown: str, exc: ImportError) -> str:
    """The line for a database URL whose Python driver is not installed."""
    return (
        f"database {shown} needs the Python package {exc.name or exc}, which is not installed "
        "(for PostgreSQL: pip install '.[postgres]')"
    )


def check_database(database: str, where: str = "") -> None:
    """Raise ConfigError when the ledger at `database` cannot be opened here: a malformed URL, a
    driver that is not installed, or (SQLite) a file or folder this user cannot write.

    Creates nothing and connects to nothing (`bot check`); `where` prefixes the line.
    """
    try:
        url = make_url(database)
        engine = create_engine(url)  # imports the driver, does not connect
    except ImportError as exc:
        raise ConfigError(where + missing_driver(database, exc)) from None
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(f"{where}bot.database: cannot use {database!r}: {exc}") from None
    engine.dispose()
    shown = url.render_as_string(hide_password=True)
    name = url.database if url.get_backend_name() == "sqlite" else None
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name).absolute()
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise ConfigError(f"{where}database {shown}: this user cannot read and write {path}")
        return
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{where}database {shown}: cannot create {path}: folder {folder} is not writable"
        )

"""Opening the ledger's database and the transactions on it, for SQLite and PostgreSQL alike.

A new SQLite file is created 0600; SQLite runs in WAL with BEGIN IMMEDIATE for writes; PostgreSQL
serialises what must be serial with advisory locks. Used by the ledger modules only.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, Table, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.database_url import is_sqlite_path
from bot.errors import ConfigError
from bot.ledger.migrations import migrate
from bot.ledger.schema import metadata
from bot.settings.values import hide_password

__all__ = [
    "RECORD_LOCK",
    "open_engine",
    "transaction",
    "lock",
    "insert_if_absent",
    "try_daemon_lock",
    "missing_driver",
    "parse_database",
    "sqlite_file",
]

# pg_advisory_xact_lock keys: fixed numbers spelled in ASCII, recognisable in pg_locks.
RECORD_LOCK = int.from_bytes(b"bot:rec", "big")
_SCHEMA_LOCK = int.from_bytes(b"bot:ddl", "big")
_IMMEDIATE = "bot_begin_immediate"  # execution option read by the SQLite "begin" hook
_BUSY_TIMEOUT_MS = 30_000
_EXAMPLES = "sqlite:///bot.db, or postgresql+psycopg://user@host/dbname for PostgreSQL"


def open_engine(url: URL, *, read_only: bool = False) -> Engine:
    """An engine with every table created and every migration (ledger.migrations) run. A new SQLite
    file (and its folder) is created 0600 first.

    `read_only` (commands that only read): an existing SQLite file this user cannot write, or in a
    folder it cannot write, is opened read-only as it is; anything else opens as usual.
    Raises OSError when the SQLite file or folder cannot be created, SQLAlchemyError otherwise.
    """
    if read_only and (path := _unwritable_sqlite_file(url)) is not None:
        return _read_only_engine(path)
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


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for memory, a file: URI, or another database."""
    name = url.database if url.get_backend_name() == "sqlite" else None
    if not is_sqlite_path(name):
        return None
    return Path(name).absolute()


def _unwritable_sqlite_file(url: URL) -> Path | None:
    """The SQLite file of `url` when it exists and this user cannot write it or its folder (where
    SQLite writes its -wal and -shm files); else None. A read-only mount or `chattr +i` counts:
    access(2) answers for them too."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        return None
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK):
        return None
    return path


def _read_only_engine(path: Path) -> Engine:
    """A read-only engine on an existing SQLite file; its schema is taken as it is.

    SQLite opens a WAL database read-only only when its -wal file exists or can be created
    (sqlite.org/wal.html#readonly). No -wal file in a folder nobody can write in means no writer
    either (a writer creates it), so the file is then opened immutable.
    """
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() or os.access(path.parent, os.W_OK) else "immutable=1"
    uri = f"{path.as_uri()}?{mode}"
    engine = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
    )
    _configure_sqlite(engine, read_only=True)
    return engine


def _create_sqlite_file(database: str | None) -> None:
    """Create the database file 0600 (and its folder) before SQLite creates it world-readable.

    RELIABILITY.md finding 12: under umask 022 SQLite creates 0644, and -wal/-shm take the
    database file's mode, so creating the file first protects all three. An existing file is kept.
    """
    if not is_sqlite_path(database):
        return
    path = Path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot create folder {path.parent}: {exc.strerror}") from exc
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def _configure_sqlite(engine: Engine, *, read_only: bool = False) -> None:
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
        if read_only:  # the journal mode is the writers' to set
            cursor.close()
            return
        _use_wal(cursor)
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


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode (kept in the file: once set, every later open only reads it).

    Changing the journal mode needs the file to itself, and SQLite answers "database is locked"
    at once, without calling the busy handler, while another connection reads it: two processes
    opening a new database at once (two cron jobs on a new install) failed here. So wait as
    busy_timeout would, a few milliseconds at a time.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


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


def parse_database(database: str) -> URL:
    """`database` as a SQLAlchemy URL whose driver is installed; else ConfigError, one line,
    the password hidden. Connects to nothing."""
    try:
        url = make_url(database)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"database {hide_password(database)}: not a database URL ({exc}) (write {_EXAMPLES})"
        ) from None
    shown = url.render_as_string(hide_password=True)
    try:
        create_engine(url).dispose()  # imports the dialect and driver, does not connect
    except ImportError as exc:
        raise ConfigError(missing_driver(shown, exc)) from None
    except (ArgumentError, NoSuchModuleError):
        raise ConfigError(
            f"database {shown}: unknown database type or driver {url.drivername!r}"
            f" (write {_EXAMPLES})"
        ) from None
    return url

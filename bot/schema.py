"""The ledger's layout and per-database plumbing, used by `store` only.

Tables (SQLAlchemy Core) the same on SQLite and PostgreSQL; every datetime column is
`UTCDateTime`: aware UTC in, aware UTC out. Also: opening an engine (a new SQLite file is 0600,
WAL, BEGIN IMMEDIATE for writes), transactions, insert-if-absent, locks, and Paper <-> row.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.types import TypeDecorator

from bot.models import Paper

__all__ = [
    "UTCDateTime",
    "metadata",
    "papers",
    "paper_keys",
    "paper_sources",
    "sources",
    "subscribers",
    "deliveries",
    "outbox",
    "outbox_data",
    "PENDING",
    "SENDING",
    "SENT",
    "FAILED",
    "QUARANTINED",
    "STATES",
    "EMAIL_STATES",
    "RECORD_LOCK",
    "open_engine",
    "transaction",
    "lock",
    "insert_if_absent",
    "paper_row",
    "paper_from_row",
]

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
QUARANTINED = "quarantined"
STATES = (PENDING, SENT, FAILED, QUARANTINED)  # of a delivery (one paper owed to one subscriber)
EMAIL_STATES = (PENDING, SENDING, SENT, FAILED)  # of an outbox row (one email)

# pg_advisory_xact_lock keys: fixed numbers spelled in ASCII, recognisable in pg_locks.
RECORD_LOCK = int.from_bytes(b"bot:rec", "big")
_SCHEMA_LOCK = int.from_bytes(b"bot:ddl", "big")
_IMMEDIATE = "bot_begin_immediate"  # execution option read by the SQLite "begin" hook
_BUSY_TIMEOUT_MS = 30_000


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; values come back aware UTC.

    SQLite's DATETIME keeps no offset (DESIGN.md pitfalls), so it gets naive UTC text, which also
    sorts and compares correctly; PostgreSQL gets `timestamptz`. Raises ValueError on a naive value:
    guessing its zone would silently shift every comparison.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given to the store; pass aware UTC"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

# One row per paper; `canonical` is identity.keys(paper)[0] ("arxiv:…", "doi:…" or "title:…").
# authors and categories are JSON arrays as text, portable across both databases.
papers = Table(
    "papers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("canonical", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("url", Text, nullable=False, default=""),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", Text, nullable=False, default="[]"),
    Column("categories", Text, nullable=False, default="[]"),
    Column("arxiv_id", Text),
    Column("doi", Text),
    Column("published", UTCDateTime()),
    Column("first_seen", UTCDateTime(), nullable=False),
    Index("ix_papers_first_seen", "first_seen"),
)

# Every identity key a paper was ever seen under; a paper is known when any of its keys is here.
paper_keys = Table(
    "paper_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("paper_id", Integer, ForeignKey("papers.id"), nullable=False),
    Index("ix_paper_keys_paper_id", "paper_id"),
)

paper_sources = Table(
    "paper_sources",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id"), nullable=False),
    Column("source", String(200), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("paper_id", "source"),
)

# Poll state per source: HTTP validators for conditional GET and what `bot status` shows.
sources = Table(
    "sources",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_poll", UTCDateTime()),
    Column("last_success", UTCDateTime()),
    Column("last_error", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_count", Integer, nullable=False, default=0),
)

# When the bot first saw each (lower-cased) email: it only receives papers first seen after that.
subscribers = Table(
    "subscribers",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("first_seen", UTCDateTime(), nullable=False),
)

# One row per (subscriber, paper), never two (SPEC section 4). While pending it may already be in
# an email (`outbox_id`); it becomes sent/failed in the same transaction as that email's row.
# `attempts` counts failed renders: at 3 the delivery is quarantined (RELIABILITY K4).
deliveries = Table(
    "deliveries",
    metadata,
    Column("email", String(320), nullable=False),
    Column("paper_id", Integer, ForeignKey("papers.id"), nullable=False),
    Column("state", String(12), nullable=False, default=PENDING),
    Column("queries", Text, nullable=False, default="[]"),
    Column("queued_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("message_id", Text),
    Column("error", Text),
    Column("outbox_id", Integer, ForeignKey("outbox.id")),
    Column("attempts", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("email", "paper_id"),
    Index("ix_deliveries_state_email", "state", "email", "queued_at"),
    Index("ix_deliveries_outbox_id", "outbox_id"),
)

# The outbox: one row per email, rendered once; its bytes and Message-ID never change, so a retry
# after a crash sends the very same message (RELIABILITY finding 1). pending -> sending -> sent or
# failed, one commit per step. A `sending` row belongs to `claimed_by` ("host:pid") until
# `lease_until`; after that, or once that process is gone, it is sent again. `period` (e.g.
# "daily:2026-11-22") makes a scheduled digest idempotent: one per (email, period); NULLs never
# collide, on SQLite and PostgreSQL alike.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("period", Text),
    Column("state", String(12), nullable=False, default=PENDING),
    Column("message_id", Text, nullable=False),
    Column("papers", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt", UTCDateTime()),
    Column("claimed_by", Text),
    Column("lease_until", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("error", Text),
    UniqueConstraint("email", "period", name="uq_outbox_email_period"),
    Index("ix_outbox_state_id", "state", "id"),
    Index("ix_outbox_email_state", "email", "state"),
)

# The bytes of each outbox email, written once. Apart from `outbox` because a database rewrites a
# whole row on UPDATE: with the ~20 KB body inline, every state change copied it (measured on
# SQLite: 2 ms per email, a tenth of that without).
outbox_data = Table(
    "outbox_data",
    metadata,
    Column("outbox_id", Integer, ForeignKey("outbox.id"), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)


def open_engine(url: URL) -> Engine:
    """An engine with every table created. A new SQLite file (and its folder) is created 0600 first.

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


def paper_row(paper: Paper) -> dict[str, Any]:
    """The `papers` row of a Paper whose id and first_seen are set."""
    return {
        "canonical": paper.id,
        "title": paper.title,
        "url": paper.url,
        "abstract": paper.abstract,
        "authors": json.dumps(list(paper.authors), ensure_ascii=False),
        "categories": json.dumps(list(paper.categories), ensure_ascii=False),
        "arxiv_id": paper.arxiv_id,
        "doi": paper.doi,
        "published": paper.published,
        "first_seen": paper.first_seen,
    }


def paper_from_row(row: Row[Any], source_names: tuple[str, ...]) -> Paper:
    """The Paper of a `papers` row (revision is not stored: a stored paper is just a paper)."""
    return Paper(
        title=row.title,
        url=row.url,
        abstract=row.abstract,
        authors=tuple(json.loads(row.authors)),
        categories=tuple(json.loads(row.categories)),
        sources=source_names,
        published=row.published,
        arxiv_id=row.arxiv_id,
        doi=row.doi,
        id=row.canonical,
        first_seen=row.first_seen,
    )


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

"""The ledger's database handle: the engine and its transactions, shared by the ledger's parts
(`Papers`, `Deliveries`, `Outbox`), each of which owns its tables.

Every write is one transaction (SQLite BEGIN IMMEDIATE); a database outage becomes one StoreError.
SQLAlchemy's engine (and its pool) is thread-safe, a connection is not: each transaction here takes
its own connection from the pool, so the parts may be called from worker threads.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DatabaseError, SQLAlchemyError
from sqlalchemy.pool import SingletonThreadPool

from bot.errors import StoreError
from bot.ledger.db import open_engine, parse_database, transaction
from bot.ledger.schema import paper_sources

__all__ = ["Database", "OffLoop", "chunks", "reason", "sources_of"]

T = TypeVar("T")

_CHUNK = 500  # bound parameters per IN (...): far below SQLite's limit


class Database:
    """A connection pool to the ledger; use `open(url)`, close when done (or `with`)."""

    def __init__(self, engine: Engine, shown_url: str):
        self._engine = engine
        self.shown = shown_url  # the URL with its password hidden

    @classmethod
    def open(cls, url: str, *, read_only: bool = False) -> Self:
        """Connect and create missing tables. A new SQLite file (and its folder) is created 0600.

        `read_only`: for commands that only read; a SQLite file this user cannot write (or in a
        read-only folder) is then opened read-only instead of refused.
        Raises ConfigError for a URL that is not usable here (exit 2), StoreError
        "cannot open database <url, password hidden>: <reason>" when the database fails.
        """
        parsed = parse_database(url)
        shown = parsed.render_as_string(hide_password=True)
        try:
            return cls(open_engine(parsed, read_only=read_only), shown)
        except (OSError, SQLAlchemyError) as exc:
            raise StoreError(f"cannot open database {shown}: {reason(exc)}{_hint(exc)}") from exc

    @contextmanager
    def worker(self) -> Iterator[OffLoop]:
        """Run ledger calls off the event loop, on one thread of their own, while in the block.

        For async code (the sender): a slow commit then stalls no coroutine. One thread keeps the
        calls in the order given and never has two of them wait on SQLite's write lock together.
        On leaving, a call still running (its caller was cancelled) finishes first. A SQLite
        `:memory:` database is one connection per thread (SingletonThreadPool): calls run inline.
        """
        if isinstance(self._engine.pool, SingletonThreadPool):
            yield OffLoop(None)
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger") as pool:
            yield OffLoop(pool)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE)."""
        with self._guard(), transaction(self._engine, immediate=True) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot; on WAL SQLite it never blocks a writer."""
        with self._guard(), transaction(self._engine, immediate=False) as conn:
            yield conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a database outage (locked, disk full, connection lost) into one StoreError line."""
        try:
            yield
        except DatabaseError as exc:  # OperationalError, and a damaged file's DatabaseError
            raise StoreError(f"database {self.shown} failed: {reason(exc)}{_hint(exc)}") from exc


class OffLoop:
    """`await run(fn, *args)`: fn(*args) on the ledger's thread (inline without one)."""

    def __init__(self, pool: ThreadPoolExecutor | None):
        self._pool = pool

    async def __call__(self, fn: Callable[..., T], /, *args: Any) -> T:
        if self._pool is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)


def sources_of(conn: Connection, ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Paper row id -> source names, in the order the paper was seen in them."""
    found: dict[int, list[str]] = {}
    for chunk in chunks(ids):
        query = (
            select(paper_sources.c.paper_id, paper_sources.c.source)
            .where(paper_sources.c.paper_id.in_(chunk))
            .order_by(paper_sources.c.first_seen, paper_sources.c.source)
        )
        for paper_id, source in conn.execute(query):
            found.setdefault(paper_id, []).append(source)
    return {k: tuple(v) for k, v in found.items()}


def chunks(items: list[Any]) -> Iterator[list[Any]]:
    """`items` in slices small enough for one IN (...) list."""
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _hint(exc: BaseException) -> str:
    """How to fix a database file SQLite says is damaged; "" for an outage."""
    text = str(getattr(exc, "orig", exc))
    if "malformed" in text or "not a database" in text:
        return " (the file is damaged: restore it from a backup; bot check says more)"
    return ""


def reason(exc: BaseException) -> str:
    """The driver's message on one line, without SQLAlchemy's SQL echo and background link."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # the path is in the URL already
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).split("\n[SQL:")[0].split("\n(Background on this error")[0]
    return re.sub(r"\s+", " ", text).strip()

"""The ledger's papers: every paper seen and its identity keys, each source's poll state, and when
each subscriber was first seen (who may be owed a paper).

Same code on SQLite (the embedded default) and PostgreSQL (several processes sharing one ledger).
Every write is one transaction. `record` is serialized across processes (SQLite BEGIN IMMEDIATE,
a PostgreSQL advisory lock) so two processes can never both decide that a paper is new; it writes
the deliveries of the new papers in that same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update

from bot.ledger.db import RECORD_LOCK, insert_if_absent, lock
from bot.ledger.deliveries import queue_deliveries
from bot.ledger.handle import Database, sources_of
from bot.ledger.recording import record_papers
from bot.ledger.schema import paper_from_row, sources, subscribers
from bot.ledger.schema import papers as paper_table
from bot.models import Paper, SourceState

__all__ = ["Papers", "SourceState", "QueueFn", "source_state"]

# queue(new_papers) -> (email, paper.id, matched queries) for each delivery to write.
QueueFn = Callable[[list[Paper]], Iterable[tuple[str, str, tuple[str, ...]]]]


class Papers:
    """Papers seen (with keys and sources), the sources' poll state, subscribers' first sighting."""

    def __init__(self, database: Database):
        self._db = database

    # --- subscribers and papers -------------------------------------------------------------

    def ensure_subscribers(self, emails: Iterable[str], now: datetime) -> None:
        """Remember `now` as the first sighting of each email not seen before (case-insensitive)."""
        rows = [{"email": e, "first_seen": now} for e in dict.fromkeys(e.lower() for e in emails)]
        if rows:
            with self._db.write() as conn:
                conn.execute(insert_if_absent(conn, subscribers), rows)

    def record(
        self, papers: Sequence[Paper], now: datetime, queue: QueueFn | None = None
    ) -> list[Paper]:
        """Record papers and queue deliveries for the new ones, in one transaction; return the new.

        A paper is known when the ledger holds the same paper (identity.same_paper, against the
        keys it holds): it only gains its missing keys and sources, and a paper known by title
        alone gains the ids, link and details of a record that has them (bot.ledger.recording).
        Unknown papers are inserted with first_seen=now. When `queue`
        is given it is called once with the new papers (not called when none are new) and a pending
        delivery is written for each (email, paper id, queries) it returns, unless one exists for
        that pair or the email was first seen after `now`, or never. Papers without any key are
        skipped. Raises ValueError when `queue` names a paper that is not among the new ones.
        """
        with self._db.write() as conn:
            lock(conn, RECORD_LOCK)
            new, ids = record_papers(conn, papers, now)
            if queue is not None and new:
                queue_deliveries(conn, queue(list(new)), ids, now)
        return new

    def seen(self, since: datetime | None = None, limit: int | None = None) -> list[Paper]:
        """Papers first seen at or after `since`, newest first, with sources and first_seen."""
        query = select(paper_table).order_by(
            paper_table.c.first_seen.desc(), paper_table.c.id.desc()
        )
        if since is not None:
            query = query.where(paper_table.c.first_seen >= since)
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            by_id = sources_of(conn, [r.id for r in rows])
        return [paper_from_row(r, by_id.get(r.id, ())) for r in rows]

    def paper(self, paper_id: str) -> Paper | None:
        """The stored paper whose id (canonical key) is `paper_id`, or None (`bot explain`)."""
        query = select(paper_table).where(paper_table.c.canonical == paper_id)
        with self._db.read() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            return paper_from_row(row, sources_of(conn, [row.id]).get(row.id, ()))

    # --- sources ------------------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState | None:
        """The poll state of one source; None when it was never polled."""
        with self._db.read() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).first()
        return source_state(row) if row else None

    def save_poll(
        self,
        name: str,
        now: datetime,
        *,
        error: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        count: int = 0,
    ) -> None:
        """Record one poll. Success (error None) resets the failure count and stores the validators
        given (keeping old ones not given); a failure counts up and keeps validators and count."""
        with self._db.write() as conn:
            conn.execute(insert_if_absent(conn, sources), [{"name": name}])
            if error is None:
                values: dict[str, Any] = {
                    "last_poll": now,
                    "last_success": now,
                    "last_error": None,
                    "consecutive_failures": 0,
                    "last_count": count,
                    "etag": func.coalesce(etag, sources.c.etag),
                    "last_modified": func.coalesce(last_modified, sources.c.last_modified),
                }
            else:
                values = {
                    "last_poll": now,
                    "last_error": error,
                    "consecutive_failures": sources.c.consecutive_failures + 1,
                }
            conn.execute(update(sources).where(sources.c.name == name).values(**values))


def source_state(row: Row[Any]) -> SourceState:
    """The SourceState of a `sources` row."""
    return SourceState(
        name=row.name,
        etag=row.etag,
        last_modified=row.last_modified,
        last_poll=row.last_poll,
        last_success=row.last_success,
        last_error=row.last_error,
        consecutive_failures=row.consecutive_failures,
        last_count=row.last_count,
    )

"""The ledger: papers seen, poll state and subscribers (mail is in `outbox_store`).

Same code on SQLite (the embedded default) and PostgreSQL (several processes sharing one ledger).
Every write is one transaction. `record` is serialized across processes (SQLite BEGIN IMMEDIATE,
a PostgreSQL advisory lock) so two processes can never both decide that a paper is new.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from bot.ledger.base import chunks
from bot.ledger.db import RECORD_LOCK, insert_if_absent, lock
from bot.ledger.outbox import OutboxEmail, OutboxStore
from bot.ledger.recording import record_papers
from bot.ledger.schema import (
    PENDING,
    STATES,
    deliveries,
    paper_from_row,
    sources,
    subscribers,
)
from bot.ledger.schema import papers as paper_table
from bot.models import Paper

__all__ = ["Store", "SourceState", "Status", "QueueFn", "OutboxEmail"]

# queue(new_papers) -> (email, paper.id, matched queries) for each delivery to write.
QueueFn = Callable[[list[Paper]], Iterable[tuple[str, str, tuple[str, ...]]]]


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the ledger remembers about polling one source."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    last_count: int = 0


@dataclass(frozen=True, slots=True)
class Status:
    """`bot status`: every source's state, papers seen, deliveries per email and state."""

    sources: list[SourceState]
    papers: int
    deliveries: dict[str, dict[str, int]]
    # Emails (outbox rows) per subscriber and state; each subscriber's latest error (when, text).
    emails: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: dict[str, tuple[datetime | None, str]] = field(default_factory=dict)


class Store(OutboxStore):
    """A connection pool to the ledger; use `Store.open(url)`, close when done (or `with`).

    Papers, sources and subscribers here; deliveries and the outbox in `OutboxStore`.
    """

    # --- subscribers and papers -------------------------------------------------------------

    def ensure_subscribers(self, emails: Iterable[str], now: datetime) -> None:
        """Remember `now` as the first sighting of each email not seen before (case-insensitive)."""
        rows = [{"email": e, "first_seen": now} for e in dict.fromkeys(e.lower() for e in emails)]
        if rows:
            with self._write() as conn:
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
        with self._write() as conn:
            lock(conn, RECORD_LOCK)
            new, ids = record_papers(conn, papers, now)
            if queue is not None and new:
                self._queue(conn, list(queue(list(new))), ids, now)
        return new

    def _queue(
        self,
        conn: Connection,
        triples: list[tuple[str, str, tuple[str, ...]]],
        ids: dict[str, int],
        now: datetime,
    ) -> None:
        """A pending delivery per triple whose subscriber was first seen at or before `now`."""
        emails = sorted({email.lower() for email, _, _ in triples})
        eligible: set[str] = set()
        for chunk in chunks(emails):
            eligible.update(
                conn.scalars(
                    select(subscribers.c.email).where(
                        subscribers.c.email.in_(chunk), subscribers.c.first_seen <= now
                    )
                )
            )
        rows: dict[tuple[str, int], dict[str, Any]] = {}
        for email, paper_id, queries in triples:
            if paper_id not in ids:
                raise ValueError(
                    f"queue returned paper {paper_id!r}, which is not new in this record()"
                )
            email = email.lower()
            if email in eligible:
                rows.setdefault(
                    (email, ids[paper_id]),
                    {
                        "email": email,
                        "paper_id": ids[paper_id],
                        "state": PENDING,
                        "queries": json.dumps(list(queries), ensure_ascii=False),
                        "queued_at": now,
                    },
                )
        if rows:
            conn.execute(insert_if_absent(conn, deliveries), list(rows.values()))

    def papers(self, since: datetime | None = None, limit: int | None = None) -> list[Paper]:
        """Papers first seen at or after `since`, newest first, with sources and first_seen."""
        query = select(paper_table).order_by(
            paper_table.c.first_seen.desc(), paper_table.c.id.desc()
        )
        if since is not None:
            query = query.where(paper_table.c.first_seen >= since)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            rows = conn.execute(query).all()
            by_id = self._sources_of(conn, [r.id for r in rows])
        return [paper_from_row(r, by_id.get(r.id, ())) for r in rows]

    def paper_count(self) -> int:
        """How many papers the ledger holds."""
        with self._read() as conn:
            return conn.scalar(select(func.count()).select_from(paper_table)) or 0

    # --- sources ------------------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState | None:
        """The poll state of one source; None when it was never polled."""
        with self._read() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).first()
        return _source_state(row) if row else None

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
        with self._write() as conn:
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

    def status(self) -> Status:
        """Every source's state (by name), the paper count, and per email every state's count."""
        with self._read() as conn:
            states = [
                _source_state(r) for r in conn.execute(select(sources).order_by(sources.c.name))
            ]
            count = conn.scalar(select(func.count()).select_from(paper_table)) or 0
            known = list(conn.scalars(select(subscribers.c.email)))
            tallies = conn.execute(
                select(deliveries.c.email, deliveries.c.state, func.count()).group_by(
                    deliveries.c.email, deliveries.c.state
                )
            ).all()
            emails, errors = self._mail_status(conn)
        counts: dict[str, dict[str, int]] = {}
        for email in known:
            counts[email] = dict.fromkeys(STATES, 0)
        for email, state, n in tallies:
            counts.setdefault(email, dict.fromkeys(STATES, 0))[state] = n
        return Status(
            sources=states,
            papers=count,
            deliveries=dict(sorted(counts.items())),
            emails=dict(sorted(emails.items())),
            errors=dict(sorted(errors.items())),
        )


def _source_state(row: Row[Any]) -> SourceState:
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

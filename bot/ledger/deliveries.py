"""The ledger's deliveries: one paper owed to one subscriber (SPEC section 4), until an email.

Deliveries are written with their paper, in `Papers.record`'s transaction (`queue_deliveries`);
here they are read for composing and quarantined when a paper cannot be rendered (RELIABILITY
K4). Once in an outbox email they follow that email (see `outbox`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from bot.ledger.db import insert_if_absent
from bot.ledger.handle import Database, chunks, sources_of
from bot.ledger.schema import (
    PENDING,
    QUARANTINED,
    deliveries,
    paper_from_row,
    subscribers,
)
from bot.ledger.schema import papers as paper_table
from bot.models import Pending

__all__ = ["Deliveries", "queue_deliveries", "unassigned", "row_ids"]


class Deliveries:
    """Deliveries owed: read for composing, listed by subscriber, quarantined."""

    def __init__(self, database: Database):
        self._db = database

    def pending(
        self, email: str, limit: int | None = None, outbox_id: int | None = None
    ) -> list[Pending]:
        """The subscriber's pending deliveries not yet in an email (or, with `outbox_id`, those
        in that email), oldest queued first."""
        where = (
            unassigned(email)
            if outbox_id is None
            else (deliveries.c.email == email.lower(), deliveries.c.outbox_id == outbox_id)
        )
        query = (
            select(paper_table, deliveries.c.queries, deliveries.c.queued_at)
            .join(deliveries, deliveries.c.paper_id == paper_table.c.id)
            .where(*where)
            .order_by(deliveries.c.queued_at, paper_table.c.first_seen, paper_table.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            by_id = sources_of(conn, [r.id for r in rows])
        return [
            Pending(
                email=email.lower(),
                paper=paper_from_row(r, by_id.get(r.id, ())),
                queries=tuple(json.loads(r.queries)),
                queued_at=r.queued_at,
            )
            for r in rows
        ]

    def emails_with_pending(self) -> list[str]:
        """Every email with at least one pending delivery not yet in an email, sorted."""
        query = (
            select(deliveries.c.email)
            .where(deliveries.c.state == PENDING, deliveries.c.outbox_id.is_(None))
            .distinct()
        )
        with self._db.read() as conn:
            return sorted(conn.scalars(query))

    def oldest_unassigned(self) -> dict[str, datetime]:
        """email -> when its oldest pending delivery not yet in an email was queued."""
        query = (
            select(deliveries.c.email, func.min(deliveries.c.queued_at).label("oldest"))
            .where(deliveries.c.state == PENDING, deliveries.c.outbox_id.is_(None))
            .group_by(deliveries.c.email)
        )
        with self._db.read() as conn:
            return {row.email: row.oldest for row in conn.execute(query)}

    def note_render_failure(
        self, email: str, paper_ids: Sequence[str], error: str, now: datetime, limit: int = 3
    ) -> list[str]:
        """Count a failed render against these deliveries; quarantine those at `limit` failures.

        Returns the canonical ids quarantined now (RELIABILITY K4: a poison paper must not stop
        the subscriber's other papers, nor be retried forever).
        """
        quarantined: list[str] = []
        with self._db.write() as conn:
            for chunk in chunks(list(dict.fromkeys(paper_ids))):
                where = (*unassigned(email), deliveries.c.paper_id.in_(row_ids(chunk)))
                conn.execute(
                    update(deliveries)
                    .where(*where)
                    .values(attempts=deliveries.c.attempts + 1, error=error)
                )
                poison = select(deliveries.c.paper_id).where(*where, deliveries.c.attempts >= limit)
                rows = list(conn.scalars(poison))
                if rows:
                    conn.execute(
                        update(deliveries)
                        .where(deliveries.c.email == email.lower(), deliveries.c.paper_id.in_(rows))
                        .values(state=QUARANTINED, sent_at=now)
                    )
                    quarantined += conn.scalars(
                        select(paper_table.c.canonical).where(paper_table.c.id.in_(rows))
                    )
        return sorted(quarantined)


def queue_deliveries(
    conn: Connection,
    triples: list[tuple[str, str, tuple[str, ...]]],
    ids: dict[str, int],
    now: datetime,
) -> None:
    """A pending delivery per (email, canonical id, queries) whose subscriber was first seen at or
    before `now`, in `Papers.record`'s transaction: a paper and its deliveries commit together.
    `ids`: canonical id -> row id of the papers new in it."""
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


def unassigned(email: str) -> tuple[Any, ...]:
    """Where-clauses: this subscriber's pending deliveries that are in no email yet."""
    return (
        deliveries.c.email == email.lower(),
        deliveries.c.state == PENDING,
        deliveries.c.outbox_id.is_(None),
    )


def row_ids(canonical: list[str]) -> Any:
    """The row ids of papers given by canonical id, as a subquery for IN (...)."""
    return select(paper_table.c.id).where(paper_table.c.canonical.in_(canonical)).scalar_subquery()

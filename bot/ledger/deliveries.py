"""The ledger's deliveries: one paper owed to one subscriber (SPEC section 4), until an email.

Deliveries are written by `Store.record`; here they are read for composing, counted, and
quarantined when a paper cannot be rendered (RELIABILITY K4). Once in an outbox email they follow
that email (see `outbox_store`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from bot.ledger.base import StoreBase, chunks
from bot.ledger.schema import FAILED, PENDING, QUARANTINED, SENT, deliveries, paper_from_row
from bot.ledger.schema import papers as paper_table
from bot.models import Pending

__all__ = ["DeliveryStore", "unassigned", "row_ids"]


class DeliveryStore(StoreBase):
    """Deliveries owed: read, counted, finished by paper, quarantined."""

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
        with self._read() as conn:
            rows = conn.execute(query).all()
            by_id = self._sources_of(conn, [r.id for r in rows])
        return [
            Pending(
                email=email.lower(),
                paper=paper_from_row(r, by_id.get(r.id, ())),
                queries=tuple(json.loads(r.queries)),
                queued_at=r.queued_at,
            )
            for r in rows
        ]

    def pending_count(self, email: str) -> int:
        """How many deliveries the subscriber has pending (in an unsent email or not yet)."""
        query = select(func.count()).where(
            deliveries.c.email == email.lower(), deliveries.c.state == PENDING
        )
        with self._read() as conn:
            return conn.scalar(query) or 0

    def emails_with_pending(self) -> list[str]:
        """Every email with at least one pending delivery not yet in an email, sorted."""
        query = (
            select(deliveries.c.email)
            .where(deliveries.c.state == PENDING, deliveries.c.outbox_id.is_(None))
            .distinct()
        )
        with self._read() as conn:
            return sorted(conn.scalars(query))

    def oldest_unassigned(self) -> dict[str, datetime]:
        """email -> when its oldest pending delivery not yet in an email was queued."""
        query = (
            select(deliveries.c.email, func.min(deliveries.c.queued_at).label("oldest"))
            .where(deliveries.c.state == PENDING, deliveries.c.outbox_id.is_(None))
            .group_by(deliveries.c.email)
        )
        with self._read() as conn:
            return {row.email: row.oldest for row in conn.execute(query)}

    def mark_sent(
        self, email: str, paper_ids: Sequence[str], message_id: str, now: datetime
    ) -> None:
        """Flip the pending deliveries of these papers (canonical ids) to sent, atomically."""
        self._finish(email, paper_ids, now, state=SENT, message_id=message_id)

    def mark_failed(self, email: str, paper_ids: Sequence[str], error: str, now: datetime) -> None:
        """Flip the pending deliveries of these papers to failed with the server's reply."""
        self._finish(email, paper_ids, now, state=FAILED, error=error)

    def _finish(self, email: str, paper_ids: Sequence[str], now: datetime, **values: Any) -> None:
        with self._write() as conn:
            for chunk in chunks(list(dict.fromkeys(paper_ids))):
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.email == email.lower(),
                        deliveries.c.state == PENDING,
                        deliveries.c.paper_id.in_(row_ids(chunk)),
                    )
                    .values(sent_at=now, **values)
                )

    def note_render_failure(
        self, email: str, paper_ids: Sequence[str], error: str, now: datetime, limit: int = 3
    ) -> list[str]:
        """Count a failed render against these deliveries; quarantine those at `limit` failures.

        Returns the canonical ids quarantined now (RELIABILITY K4: a poison paper must not stop
        the subscriber's other papers, nor be retried forever).
        """
        quarantined: list[str] = []
        with self._write() as conn:
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

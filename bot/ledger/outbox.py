"""The ledger's outbox: rendered emails, each sent at least once and never lost (SPEC section 4).

An email is stored once with its bytes and Message-ID (`add_email`), then moves pending -> sending
-> sent | failed, one commit per step; its deliveries change state in the same transaction as its
row. A row left in `sending` by a process that died (same host) or whose lease ran out is claimed
again and the same bytes go out again: at-least-once, and the only duplicate is a kill between
the server's 250 and the commit (RELIABILITY finding 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, update

from bot.ledger.claims import OutboxEmail, claim, finish, new_owner
from bot.ledger.db import insert_if_absent
from bot.ledger.deliveries import row_ids, unassigned
from bot.ledger.handle import Database, chunks
from bot.ledger.schema import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    deliveries,
    outbox,
    outbox_data,
)

__all__ = ["Outbox", "OutboxEmail", "new_owner"]  # the last two from claims


class Outbox:
    """Outbox rows and the claims on them; see the module docstring for the state machine."""

    def __init__(self, database: Database):
        self._db = database

    def has_digest(self, email: str, period: str) -> bool:
        """True when an email for (email, period) is in the outbox, whatever its state."""
        query = select(outbox.c.id).where(
            outbox.c.email == email.lower(), outbox.c.period == period
        )
        with self._db.read() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def last_periods(self) -> dict[str, str]:
        """email -> the period of its latest email that has one (any state)."""
        latest = (
            select(func.max(outbox.c.id))
            .where(outbox.c.period.is_not(None))
            .group_by(outbox.c.email)
            .scalar_subquery()
        )
        query = select(outbox.c.email, outbox.c.period).where(outbox.c.id.in_(latest))
        with self._db.read() as conn:
            return {row.email: row.period for row in conn.execute(query)}

    def open_emails(self) -> set[str]:
        """Subscribers with an email not yet finished (pending or sending)."""
        query = select(outbox.c.email).where(outbox.c.state.in_((PENDING, SENDING))).distinct()
        with self._db.read() as conn:
            return set(conn.scalars(query))

    def add_email(
        self,
        email: str,
        paper_ids: Sequence[str],
        message_id: str,
        data: bytes,
        now: datetime,
        period: str | None = None,
    ) -> int | None:
        """Store a rendered email (pending) and put these pending deliveries in it; one commit.

        Returns the row id, or None (nothing written) when (email, period) already has an email or
        any of the deliveries is no longer pending outside an email (the caller composes again).
        """
        with self._db.write() as conn:
            row_id = _insert_email(conn, email.lower(), paper_ids, message_id, data, now, period)
            if row_id is None:
                conn.rollback()
        return row_id

    def split_email(
        self, row_id: int, owner: str, parts: Sequence[tuple[Sequence[str], str, bytes]]
    ) -> bool:
        """Replace a claimed email the server refused for its size by smaller ones; one commit.

        `parts` are (paper ids, Message-ID, bytes) together holding exactly its papers. The first
        part keeps its period (a digest stays one digest for the schedule) and every part keeps
        its age (`created_at`, for the expiry of deferred emails). The refused email is deleted:
        it never went out. False (nothing changed) when the row is no longer `owner`'s.
        """
        with self._db.write() as conn:
            row = conn.execute(
                select(outbox).where(
                    outbox.c.id == row_id, outbox.c.state == SENDING, outbox.c.claimed_by == owner
                )
            ).first()
            if row is None:
                return False
            conn.execute(
                update(deliveries).where(deliveries.c.outbox_id == row_id).values(outbox_id=None)
            )
            conn.execute(delete(outbox_data).where(outbox_data.c.outbox_id == row_id))
            conn.execute(delete(outbox).where(outbox.c.id == row_id))
            for n, (paper_ids, message_id, data) in enumerate(parts):
                period = row.period if n == 0 else None
                made = _insert_email(
                    conn, row.email, paper_ids, message_id, data, row.created_at, period
                )
                if made is None:
                    conn.rollback()
                    return False
        return True

    def claim_due(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        emails: Iterable[str] | None = None,
    ) -> list[OutboxEmail]:
        """Take up to `limit` due rows, oldest first: -> sending for `owner` until now+lease.

        One commit. Only rows of `emails`, if given. See claims.claim.
        """
        wanted = None if emails is None else {e.lower() for e in emails}
        with self._db.write() as conn:
            return claim(conn, owner, now, lease, limit, wanted)

    def renew(self, row_id: int, owner: str, until: datetime) -> bool:
        """Extend `owner`'s lease on a claimed row; False when the row is no longer its own."""
        with self._db.write() as conn:
            return (
                conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.id == row_id,
                        outbox.c.state == SENDING,
                        outbox.c.claimed_by == owner,
                    )
                    .values(lease_until=until)
                ).rowcount
                == 1
            )

    def release(self, row_ids: Sequence[int], owner: str) -> None:
        """Give back claimed rows that were never tried (the run stopped): pending, as before."""
        with self._db.write() as conn:
            for chunk in chunks(list(row_ids)):
                conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.id.in_(chunk),
                        outbox.c.state == SENDING,
                        outbox.c.claimed_by == owner,
                    )
                    .values(
                        state=PENDING,
                        attempts=outbox.c.attempts - 1,
                        claimed_by=None,
                        lease_until=None,
                    )
                )

    def emails_sent(self, row_ids: Sequence[int], now: datetime) -> None:
        """The server accepted these emails: they and their deliveries become sent, one commit."""
        with self._db.write() as conn:
            for chunk in chunks(list(row_ids)):
                finish(conn, chunk, SENT, now)

    def email_failed(self, row_id: int, reply: str, now: datetime) -> None:
        """Refused for good: the email and its deliveries become failed with the server's reply."""
        with self._db.write() as conn:
            finish(conn, [row_id], FAILED, now, reply)

    def email_deferred(
        self, row_id: int, owner: str, error: str, next_attempt: datetime | None
    ) -> None:
        """Not sent this time: back to pending, not before `next_attempt` (None: at once)."""
        with self._db.write() as conn:
            conn.execute(
                update(outbox)
                .where(
                    outbox.c.id == row_id, outbox.c.state == SENDING, outbox.c.claimed_by == owner
                )
                .values(
                    state=PENDING,
                    next_attempt=next_attempt,
                    error=error,
                    claimed_by=None,
                    lease_until=None,
                )
            )

    def next_attempt(self, emails: Iterable[str] | None = None) -> datetime | None:
        """The earliest time a pending email (of `emails`, if given) may be tried again."""
        query = select(outbox.c.email, outbox.c.next_attempt).where(outbox.c.state == PENDING)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        wanted = None if emails is None else {e.lower() for e in emails}
        times = [
            r.next_attempt
            for r in rows
            if r.next_attempt is not None and (wanted is None or r.email in wanted)
        ]
        return min(times, default=None)

    def waiting_emails(self) -> list[tuple[str, str, datetime | None, str | None]]:
        """Every email not yet finished: (email, state, next attempt or None, last error)."""
        query = (
            select(outbox.c.email, outbox.c.state, outbox.c.next_attempt, outbox.c.error)
            .where(outbox.c.state.in_((PENDING, SENDING)))
            .order_by(outbox.c.id)
        )
        with self._db.read() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def retry_now(self, emails: Iterable[str]) -> int:
        """Pending emails of `emails` waiting for a retry time become due at once (`bot send
        --all`); how many. Their attempts and last error stay as they were."""
        wanted = sorted({e.lower() for e in emails})
        changed = 0
        with self._db.write() as conn:
            for chunk in chunks(wanted):
                changed += conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.email.in_(chunk),
                        outbox.c.state == PENDING,
                        outbox.c.next_attempt.is_not(None),
                    )
                    .values(next_attempt=None)
                ).rowcount
        return changed


def _insert_email(
    conn: Connection,
    email: str,
    paper_ids: Sequence[str],
    message_id: str,
    data: bytes,
    created_at: datetime,
    period: str | None,
) -> int | None:
    """Insert one pending email holding these deliveries (pending, in no email); its id, or None
    when (email, period) has one already or a delivery is taken (the caller rolls back)."""
    row_id = conn.scalar(
        insert_if_absent(conn, outbox).returning(outbox.c.id),
        {
            "email": email,
            "period": period,
            "state": PENDING,
            "message_id": message_id,
            "papers": len(paper_ids),
            "attempts": 0,
            "created_at": created_at,
        },
    )
    if row_id is None:
        return None
    conn.execute(insert(outbox_data), {"outbox_id": row_id, "data": data})
    wanted = list(dict.fromkeys(paper_ids))
    assigned = 0
    for chunk in chunks(wanted):
        assigned += conn.execute(
            update(deliveries)
            .where(*unassigned(email), deliveries.c.paper_id.in_(row_ids(chunk)))
            .values(outbox_id=row_id)
        ).rowcount
    # Fewer assigned: another run put some of these papers in its own email meanwhile (cron next
    # to the daemon, two senders on PostgreSQL): these bytes would mail them twice.
    return row_id if assigned == len(wanted) else None

"""The ledger's outbox: rendered emails, each sent at least once and never lost (SPEC section 4).

An email is stored once with its bytes and Message-ID (`add_email`), then moves pending -> sending
-> sent | failed, one commit per step; its deliveries change state in the same transaction as its
row. A row left in `sending` by a process that died (same host) or whose lease ran out is claimed
again and the same bytes go out again: at-least-once, and the only duplicate is a kill between
the server's 250 and the commit (RELIABILITY finding 1).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from bot.delivery_store import DeliveryStore, row_ids, unassigned
from bot.schema import (
    FAILED,
    PENDING,
    QUARANTINED,
    SENDING,
    SENT,
    deliveries,
    insert_if_absent,
    outbox,
    outbox_data,
)
from bot.store_base import chunks

# Up to this many emails are filtered in SQL (IN …); a longer list is filtered here.
_CHUNK_EMAILS = 200

__all__ = ["OutboxStore", "OutboxEmail", "new_owner"]


@dataclass(frozen=True, slots=True)
class OutboxEmail:
    """A claimed outbox row: what to send, to whom; `attempts` counts this one."""

    id: int
    email: str
    message_id: str
    data: bytes
    papers: int
    attempts: int


# Tells this process from an earlier one that had the same pid (pids are reused).
_PROCESS = uuid.uuid4().hex[:8]


def new_owner() -> str:
    """A claim owner for one send run: "host:pid:process:run" (the pid tells when it died)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS}:{uuid.uuid4().hex[:8]}"


class OutboxStore(DeliveryStore):
    """Outbox rows (and, inherited, deliveries); see the module docstring for the state machine."""

    # --- outbox rows ----------------------------------------------------------------------------

    def has_digest(self, email: str, period: str) -> bool:
        """True when an email for (email, period) is in the outbox, whatever its state."""
        query = select(outbox.c.id).where(
            outbox.c.email == email.lower(), outbox.c.period == period
        )
        with self._read() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def last_period(self, email: str) -> str | None:
        """The period of the subscriber's latest email that has one (any state), or None."""
        query = (
            select(outbox.c.period)
            .where(outbox.c.email == email.lower(), outbox.c.period.is_not(None))
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            return conn.scalar(query)

    def last_periods(self) -> dict[str, str]:
        """Each subscriber's `last_period`, for everyone at once (one query, not one each)."""
        latest = (
            select(func.max(outbox.c.id))
            .where(outbox.c.period.is_not(None))
            .group_by(outbox.c.email)
            .scalar_subquery()
        )
        query = select(outbox.c.email, outbox.c.period).where(outbox.c.id.in_(latest))
        with self._read() as conn:
            return {row.email: row.period for row in conn.execute(query)}

    def open_emails(self) -> set[str]:
        """Subscribers with an email not yet finished (pending or sending)."""
        query = select(outbox.c.email).where(outbox.c.state.in_((PENDING, SENDING))).distinct()
        with self._read() as conn:
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
        none of the deliveries is still pending outside an email.
        """
        email = email.lower()
        with self._write() as conn:
            row_id = conn.scalar(
                insert_if_absent(conn, outbox).returning(outbox.c.id),
                {
                    "email": email,
                    "period": period,
                    "state": PENDING,
                    "message_id": message_id,
                    "papers": len(paper_ids),
                    "attempts": 0,
                    "created_at": now,
                },
            )
            if row_id is None:
                return None
            conn.execute(insert(outbox_data), {"outbox_id": row_id, "data": data})
            assigned = 0
            for chunk in chunks(list(dict.fromkeys(paper_ids))):
                assigned += conn.execute(
                    update(deliveries)
                    .where(*unassigned(email), deliveries.c.paper_id.in_(row_ids(chunk)))
                    .values(outbox_id=row_id)
                ).rowcount
            if assigned == 0:
                conn.rollback()
                return None
        return row_id

    def due_emails(
        self, owner: str, now: datetime, emails: Iterable[str] | None = None
    ) -> list[int]:
        """Ids of the rows `claim_due` would take now, oldest first; only for `emails` if given."""
        with self._read() as conn:
            query = select(outbox.c.id, outbox.c.email).where(_claimable(conn, owner, now))
            rows = conn.execute(query.order_by(outbox.c.id)).all()
        if emails is None:
            return [r.id for r in rows]
        wanted = {e.lower() for e in emails}
        return [r.id for r in rows if r.email in wanted]

    def claim_due(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        emails: Iterable[str] | None = None,
    ) -> list[OutboxEmail]:
        """Take up to `limit` due rows, oldest first: -> sending for `owner` until now+lease.

        One commit. Due: pending and past next_attempt, or sending by a process that is gone or
        whose lease ran out. Only rows of `emails`, if given. On PostgreSQL the candidates are
        locked FOR UPDATE SKIP LOCKED (SPEC section 8), so concurrent claimers take different
        rows; the conditional UPDATE gives a row to one claimer only, on either database.
        """
        wanted = None if emails is None else {e.lower() for e in emails}
        with self._write() as conn:
            dead = _gone_owners(conn, owner, now)
            abandoned = and_(
                outbox.c.state == SENDING,
                or_(outbox.c.lease_until < now, outbox.c.claimed_by.in_(dead)),
            )
            due = and_(
                outbox.c.state == PENDING,
                or_(outbox.c.next_attempt.is_(None), outbox.c.next_attempt <= now),
            )
            claimable = or_(abandoned, due)
            # One query per state, each walking the (state, id) index: sent rows are never read,
            # so a claim costs the same for the first email of a run and the 10,000th.
            chosen = sorted(
                _candidates(conn, abandoned, wanted, limit) + _candidates(conn, due, wanted, limit)
            )[:limit]
            if not chosen:
                return []
            claimed = conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(chosen), claimable)
                .values(
                    state=SENDING,
                    claimed_by=owner,
                    lease_until=now + lease,
                    attempts=outbox.c.attempts + 1,
                )
                .returning(
                    outbox.c.id,
                    outbox.c.email,
                    outbox.c.message_id,
                    outbox.c.papers,
                    outbox.c.attempts,
                )
            ).all()
            ids = [r.id for r in claimed]
            bodies = (
                dict(
                    conn.execute(
                        select(outbox_data.c.outbox_id, outbox_data.c.data).where(
                            outbox_data.c.outbox_id.in_(ids)
                        )
                    ).all()
                )
                if ids
                else {}
            )
        found = [
            OutboxEmail(r.id, r.email, r.message_id, bytes(bodies[r.id]), r.papers, r.attempts)
            for r in claimed
        ]
        return sorted(found, key=lambda e: e.id)

    def release(self, row_ids: Sequence[int], owner: str) -> None:
        """Give back claimed rows that were never tried (the run stopped): pending, as before."""
        with self._write() as conn:
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
        with self._write() as conn:
            for chunk in chunks(list(row_ids)):
                done = conn.scalars(
                    update(outbox)
                    .where(outbox.c.id.in_(chunk), outbox.c.state.in_((PENDING, SENDING)))
                    .values(state=SENT, finished_at=now, error=None, claimed_by=None)
                    .returning(outbox.c.id)
                ).all()
                if done:
                    _finish_deliveries(conn, done, state=SENT, sent_at=now)

    def email_failed(self, row_id: int, reply: str, now: datetime) -> None:
        """Refused for good: the email and its deliveries become failed with the server's reply."""
        with self._write() as conn:
            done = conn.scalars(
                update(outbox)
                .where(outbox.c.id == row_id, outbox.c.state.in_((PENDING, SENDING)))
                .values(state=FAILED, finished_at=now, error=reply, claimed_by=None)
                .returning(outbox.c.id)
            ).all()
            if done:
                _finish_deliveries(conn, done, state=FAILED, sent_at=now, error=reply)

    def email_deferred(
        self, row_id: int, owner: str, error: str, next_attempt: datetime | None
    ) -> None:
        """Not sent this time: back to pending, not before `next_attempt` (None: at once)."""
        with self._write() as conn:
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
        with self._read() as conn:
            rows = conn.execute(query).all()
        wanted = None if emails is None else {e.lower() for e in emails}
        times = [
            r.next_attempt
            for r in rows
            if r.next_attempt is not None and (wanted is None or r.email in wanted)
        ]
        return min(times, default=None)

    def outbox_email(self, row_id: int) -> dict[str, Any]:
        """One outbox row as a dict (state, attempts, error, next_attempt, …); for tests/status."""
        query = select(outbox, outbox_data.c.data).join(
            outbox_data, outbox_data.c.outbox_id == outbox.c.id
        )
        with self._read() as conn:
            row = conn.execute(query.where(outbox.c.id == row_id)).one()
        return dict(row._mapping)

    def _mail_status(
        self, conn: Connection
    ) -> tuple[dict[str, dict[str, int]], dict[str, tuple[datetime | None, str]]]:
        """Emails per subscriber and state, and each subscriber's latest error (when, text)."""
        counts: dict[str, dict[str, int]] = {}
        tally = select(outbox.c.email, outbox.c.state, func.count()).group_by(
            outbox.c.email, outbox.c.state
        )
        for email, state, n in conn.execute(tally):
            counts.setdefault(email, {})[state] = n
        errors: dict[str, tuple[datetime | None, str]] = {}
        failing = select(
            outbox.c.email, func.coalesce(outbox.c.finished_at, outbox.c.created_at), outbox.c.error
        ).where(outbox.c.error.is_not(None), outbox.c.state.in_((PENDING, SENDING, FAILED)))
        poison = select(deliveries.c.email, deliveries.c.sent_at, deliveries.c.error).where(
            deliveries.c.state == QUARANTINED
        )
        for email, when, error in [*conn.execute(failing), *conn.execute(poison)]:
            old = errors.get(email)
            if old is None or (when and (old[0] is None or when >= old[0])):
                errors[email] = (when, error)
        return counts, errors


def _finish_deliveries(conn: Connection, row_ids: list[int], **values: Any) -> None:
    """The deliveries in these (just finished) emails take the email's outcome.

    Selected by outbox_id alone: a condition on `state` too makes SQLite walk the state index,
    i.e. every pending delivery, for each email.
    """
    message_id = (
        select(outbox.c.message_id).where(outbox.c.id == deliveries.c.outbox_id).scalar_subquery()
    )
    conn.execute(
        update(deliveries)
        .where(deliveries.c.outbox_id.in_(row_ids))
        .values(message_id=message_id, **values)
    )


def _claimable(conn: Connection, owner: str, now: datetime) -> Any:
    """Due pending rows, and sending rows whose lease ran out or whose process (here) is gone."""
    dead = _gone_owners(conn, owner, now)
    return or_(
        and_(
            outbox.c.state == PENDING,
            or_(outbox.c.next_attempt.is_(None), outbox.c.next_attempt <= now),
        ),
        and_(
            outbox.c.state == SENDING,
            or_(outbox.c.lease_until < now, outbox.c.claimed_by.in_(dead)),
        ),
    )


def _gone_owners(conn: Connection, owner: str, now: datetime) -> list[str]:
    """Owners of sending rows, lease still running, whose process on this host is gone."""
    held = select(outbox.c.claimed_by).where(outbox.c.state == SENDING, outbox.c.lease_until >= now)
    return [o for o in set(conn.scalars(held.distinct())) if o != owner and _is_gone(o)]


def _candidates(conn: Connection, where: Any, wanted: set[str] | None, limit: int) -> list[int]:
    """Up to `limit` ids of rows matching `where` (of `wanted` emails, if given), oldest first.

    On PostgreSQL they are locked FOR UPDATE SKIP LOCKED until the claim commits.
    """
    chosen: list[int] = []
    after, page = 0, 4 * limit
    while len(chosen) < limit:
        query = select(outbox.c.id, outbox.c.email).where(where, outbox.c.id > after)
        if wanted is not None and len(wanted) <= _CHUNK_EMAILS:
            query = query.where(outbox.c.email.in_(sorted(wanted)))
        query = query.order_by(outbox.c.id).limit(page)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        chosen += [r.id for r in rows if wanted is None or r.email in wanted]
        if len(rows) < page:
            break
        after = rows[-1].id
    return chosen[:limit]


def _is_gone(owner: str | None) -> bool:
    """True when `owner` (see new_owner) ran on this host and its process no longer exists."""
    host, pid, process, *_ = [*(owner or "").split(":"), "", "", ""]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return process != _PROCESS  # else a run of this very process: it may still be sending
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False

"""Recipients' own say (SPEC section 6): an unsubscribe or a pause from their page, a suspension
after their server refused them, stored in the ledger and shared by every process on it.

From the moment a stop is stored nothing more is sent to that address: the same transaction drops
(marks `dropped`, never deletes) the address's pending deliveries and the emails not yet handed to
a sender; each send run drops what was queued for it since (`hold`), and each claim drops a due
email of a stopped address instead of sending it (`drop_claimed`, bot.ledger.claims). An email a
sender already holds (claimed a moment before) is the only one still handed over.

Writes here touch the `deliveries` and `outbox` rows of the address too: the stop and the drop
must be one commit, or a crash between them would send what the recipient refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, desc, or_, select, update

from bot.ledger.db import insert_if_absent, parse_database, sqlite_file
from bot.ledger.handle import Database, chunks
from bot.ledger.schema import (
    DROPPED,
    PENDING,
    SENDING,
    SENT,
    deliveries,
    outbox,
    outbox_data,
    recipients,
)

__all__ = [
    "Recipients",
    "RecipientState",
    "UNSUBSCRIBED",
    "PAUSED",
    "SUSPENDED",
    "STOPS",
    "REFUSALS_TO_SUSPEND",
    "drop_claimed",
    "stopped_states",
    "stops_in",
]

UNSUBSCRIBED, PAUSED, SUSPENDED = "unsubscribed", "paused", "suspended"
STOPS = (UNSUBSCRIBED, PAUSED, SUSPENDED)
REFUSALS_TO_SUSPEND = 3  # emails in a row refused at RCPT with a 5xx (issue 15)


@dataclass(frozen=True, slots=True)
class RecipientState:
    """A stop on one address: `state` one of STOPS, since when, and how (one-click, page, or the
    mail server's reply for a suspension)."""

    email: str
    state: str
    since: datetime | None
    how: str | None


@dataclass(frozen=True, slots=True)
class SentEmail:
    """One email that went out to an address: when, and its header block (for its Subject)."""

    sent_at: datetime | None
    head: bytes


class Recipients:
    """The `recipients` table; every method is one transaction (callable from any thread)."""

    def __init__(self, database: Database):
        self._db = database

    def state(self, email: str) -> RecipientState | None:
        """The stop on `email`, or None when nothing stops sending to it."""
        with self._db.read() as conn:
            return stopped_states(conn, [email.lower()]).get(email.lower())

    def stopped(self) -> dict[str, RecipientState]:
        """Every stopped address (lower case) and its stop."""
        with self._db.read() as conn:
            return stopped_states(conn)

    def unsubscribe(self, email: str, now: datetime, how: str) -> bool:
        """Stop for good (only the operator undoes it); False when it was already so."""
        return self._stop(email, UNSUBSCRIBED, now, how, over=("", PAUSED))

    def pause(self, email: str, now: datetime, how: str) -> bool:
        """Stop until the recipient resumes; False when already stopped in any way."""
        return self._stop(email, PAUSED, now, how, over=("",))

    def resume_pause(self, email: str) -> bool:
        """The recipient's own way back: ends their pause only (not an unsubscribe or a
        suspension); what was dropped stays dropped. False when not paused."""
        email = email.lower()
        with self._db.write() as conn:
            cleared = conn.execute(
                update(recipients)
                .where(recipients.c.email == email, recipients.c.state == PAUSED)
                .values(state="", since=None, how=None)
            ).rowcount
            if cleared:
                _drop(conn, [email], None, "dropped: queued while paused by the recipient")
            return bool(cleared)

    def resume(self, email: str) -> RecipientState | None:
        """The operator's way back (`bot subscribers resume`): clears any stop and the refusal
        count; what was dropped stays dropped, and so does anything queued while stopped.
        Returns the stop that was cleared, or None."""
        email = email.lower()
        with self._db.write() as conn:
            old = stopped_states(conn, [email]).get(email)
            conn.execute(
                update(recipients)
                .where(recipients.c.email == email)
                .values(state="", since=None, how=None, refusals=0, refused_at=None, reply=None)
            )
            if old is not None:
                _drop(conn, [email], None, f"dropped: queued while {old.state}")
            return old

    def refused(self, email: str, reply: str, now: datetime) -> bool:
        """Note an email to `email` refused at RCPT with a 5xx; the REFUSALS_TO_SUSPEND-th in a
        row (no email sent to it since the last refusal) suspends it. True when it did now."""
        email = email.lower()
        with self._db.write() as conn:
            row = _row(conn, email)
            last = row.refused_at
            sent_since = (
                last is not None
                and conn.execute(
                    select(outbox.c.id)
                    .where(outbox.c.email == email, outbox.c.state == SENT)
                    .where(outbox.c.finished_at > last)
                    .limit(1)
                ).first()
                is not None
            )
            count = 1 if last is None or sent_since else row.refusals + 1
            values: dict[str, Any] = {"refusals": count, "refused_at": now, "reply": reply}
            suspend = count >= REFUSALS_TO_SUSPEND and row.state not in STOPS
            if suspend:
                values.update(state=SUSPENDED, since=now, how=reply)
            conn.execute(update(recipients).where(recipients.c.email == email).values(**values))
            if suspend:
                _drop(conn, [email], now, f"dropped: suspended: {reply}")
            return suspend

    def hold(self, emails: Iterable[str], now: datetime) -> set[str]:
        """The stopped addresses among `emails` (lower case); what was queued for them since
        their stop is dropped (a send run calls this first: it neither composes nor sends it)."""
        wanted = sorted({e.lower() for e in emails})
        with self._db.read() as conn:
            stopped = stopped_states(conn, wanted)
        if not stopped:
            return set()
        with self._db.write() as conn:
            for state in stopped.values():
                _drop(conn, [state.email], now, f"dropped: {state.state}")
        return set(stopped)

    def sent_emails(self, email: str, limit: int = 5) -> list[SentEmail]:
        """The latest emails sent to `email`, newest first, with their header blocks."""
        query = (
            select(outbox.c.finished_at, outbox_data.c.data)
            .join(outbox_data, outbox_data.c.outbox_id == outbox.c.id)
            .where(outbox.c.email == email.lower(), outbox.c.state == SENT)
            .order_by(desc(outbox.c.finished_at), desc(outbox.c.id))
            .limit(limit)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [SentEmail(r.finished_at, bytes(r.data).split(b"\r\n\r\n", 1)[0]) for r in rows]

    def _stop(self, email: str, state: str, now: datetime, how: str, over: tuple) -> bool:
        email = email.lower()
        with self._db.write() as conn:
            _row(conn, email)
            changed = conn.execute(
                update(recipients)
                .where(recipients.c.email == email, recipients.c.state.in_(over))
                .values(state=state, since=now, how=how)
            ).rowcount
            if changed:
                _drop(conn, [email], now, f"dropped: {state} by the recipient")
            return bool(changed)


def stops_in(url: str) -> dict[str, RecipientState]:
    """Every stop in the ledger at `url`, opened read-only; {} for a SQLite file that does not
    exist yet (a command that only lists creates no database)."""
    path = sqlite_file(parse_database(url))
    if path is not None and not path.exists():
        return {}
    with Database.open(url, read_only=True) as database:
        return Recipients(database).stopped()


def stopped_states(conn: Connection, emails: list[str] | None = None) -> dict[str, RecipientState]:
    """Stopped addresses (of `emails`, lower case, if given) and their stops."""
    query = select(recipients).where(recipients.c.state.in_(STOPS))
    found: dict[str, RecipientState] = {}
    for part in [None] if emails is None else list(chunks(emails)):
        where = query if part is None else query.where(recipients.c.email.in_(part))
        for r in conn.execute(where.order_by(recipients.c.email)):
            found[r.email] = RecipientState(r.email, r.state, r.since, r.how)
    return found


def drop_claimed(conn: Connection, ids: list[int], now: datetime) -> list[int]:
    """Of these outbox rows being claimed, those of stopped addresses end `dropped` (with their
    deliveries) instead of being sent; the others' ids are returned. One query when none is."""
    if not ids:
        return ids
    stopped = conn.execute(
        select(outbox.c.id, recipients.c.state)
        .join(recipients, recipients.c.email == outbox.c.email)
        .where(outbox.c.id.in_(ids), recipients.c.state.in_(STOPS))
    ).all()
    if not stopped:
        return ids
    for row_id, state in stopped:
        why = f"dropped: {state}"
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id, outbox.c.state.in_((PENDING, SENDING)))
            .values(state=DROPPED, finished_at=now, error=why, claimed_by=None)
        )
        conn.execute(
            update(deliveries)
            .where(deliveries.c.outbox_id == row_id, deliveries.c.state == PENDING)
            .values(state=DROPPED, error=why)
        )
    gone = {row_id for row_id, _ in stopped}
    return [i for i in ids if i not in gone]


def _row(conn: Connection, email: str) -> Any:
    """The address's row, created empty first if there is none."""
    conn.execute(insert_if_absent(conn, recipients), [{"email": email, "state": "", "refusals": 0}])
    return conn.execute(select(recipients).where(recipients.c.email == email)).one()


def _drop(conn: Connection, emails: list[str], now: datetime | None, why: str) -> None:
    """The pending deliveries of `emails` and their emails not yet claimed end `dropped`.

    An email a sender holds (`sending`) is left to finish: it may be on the wire already.
    """
    dropped = conn.scalars(
        update(outbox)
        .where(outbox.c.email.in_(emails), outbox.c.state == PENDING)
        .values(state=DROPPED, finished_at=now, error=why, claimed_by=None)
        .returning(outbox.c.id)
    ).all()
    loose = deliveries.c.outbox_id.is_(None)
    conn.execute(
        update(deliveries)
        .where(
            deliveries.c.email.in_(emails),
            deliveries.c.state == PENDING,
            or_(loose, deliveries.c.outbox_id.in_(dropped)) if dropped else loose,
        )
        .values(state=DROPPED, error=why)
    )

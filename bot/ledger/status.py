"""`bot status` from the ledger: every source's state, papers seen, deliveries and emails per
subscriber and state, each subscriber's latest error, the recipients' stops; read in one snapshot.
A delivery `dropped` by a stop is counted only where there is one (the four states always are).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select

from bot.ledger.handle import Database
from bot.ledger.papers import SourceState, source_state
from bot.ledger.recipients import RecipientState, stopped_states
from bot.ledger.schema import (
    FAILED,
    PENDING,
    QUARANTINED,
    SENDING,
    STATES,
    deliveries,
    outbox,
    papers,
    sources,
    subscribers,
)

__all__ = ["Status", "DELIVERY_STATES", "read_status"]

# The states of a delivery (one paper owed to one subscriber), in the order `bot status` shows.
DELIVERY_STATES = STATES


@dataclass(frozen=True, slots=True)
class Status:
    """`bot status`: every source's state, papers seen, deliveries per email and state."""

    sources: list[SourceState]
    papers: int
    deliveries: dict[str, dict[str, int]]
    # Emails (outbox rows) per subscriber and state; each subscriber's latest error (when, text).
    emails: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: dict[str, tuple[datetime | None, str]] = field(default_factory=dict)
    # Addresses stopped by their recipient or suspended (bot.ledger.recipients), lower case.
    stopped: dict[str, RecipientState] = field(default_factory=dict)


def read_status(database: Database) -> Status:
    """Every source's state (by name), the paper count, and per email every state's count."""
    with database.read() as conn:
        states = [source_state(r) for r in conn.execute(select(sources).order_by(sources.c.name))]
        count = conn.scalar(select(func.count()).select_from(papers)) or 0
        known = list(conn.scalars(select(subscribers.c.email)))
        tallies = conn.execute(
            select(deliveries.c.email, deliveries.c.state, func.count()).group_by(
                deliveries.c.email, deliveries.c.state
            )
        ).all()
        emails, errors = _mail_status(conn)
        stopped = stopped_states(conn)
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
        stopped=stopped,
    )


def _mail_status(
    conn: Connection,
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

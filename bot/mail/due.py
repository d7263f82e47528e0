"""What is due to be sent now, as the database says: one answer for the daemon and for cron.

Due are: an instant subscriber's papers not yet in an email; a daily/weekly digest whose period
has begun, holding papers queued before it (a paper queued later waits for the next period, so a
new subscriber is not mailed mid-period); and any email already in the outbox, which goes out when
its retry time has come (the outbox claim decides that). `bot run` asks this every 30 s, `bot once`
and `bot send` once per run (SPEC section 7), so cron every few minutes keeps each cadence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.mail.periods import Period, due_period
from bot.models import Subscriber

__all__ = ["Due", "due_now"]


@dataclass(slots=True)
class Due:
    """lower-case email -> the digest period key to stamp (None: instant or a retry); and the
    subscribers for whom a new email may be composed (the others only have outbox rows sent)."""

    emails: dict[str, str | None] = field(default_factory=dict)
    compose: set[str] = field(default_factory=set)


def due_now(
    subscribers: Iterable[Subscriber], ledger, now: datetime, *, leading: bool = True
) -> Due:
    """What to send at `now`. A paused subscriber gets nothing (SPEC section 2: their matches
    keep being recorded and wait). Not `leading`: only emails already composed (a standby).
    `ledger` is a bot.ledger.Ledger (its outbox and deliveries are read)."""
    active = [s for s in subscribers if not getattr(s, "paused", False)]
    retry = ledger.outbox.open_emails()
    # An open email goes first; no new one is built for its subscriber meanwhile.
    due = Due({s.email.lower(): None for s in active if s.email.lower() in retry})
    if not leading:
        return due
    last = ledger.outbox.last_periods()
    oldest = ledger.deliveries.oldest_unassigned()
    for subscriber in active:
        email = subscriber.email.lower()
        if email in retry or email not in oldest:
            continue
        if subscriber.cadence == "instant":
            due.emails[email] = None
            due.compose.add(email)
            continue
        previous = Period.from_key(last[email]).start if email in last else None
        period = due_period(subscriber, now, previous)
        if period is not None and oldest[email] <= period.start:
            due.emails[email] = period.key
            due.compose.add(email)
    return due

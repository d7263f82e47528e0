"""Counts per day for `bot status --html`: papers per source, matches and emails per subscriber.

Read-only. Days are UTC dates, bucketed here rather than in SQL so SQLite and PostgreSQL agree
(SQLite keeps naive UTC text, PostgreSQL timestamptz with a session time zone).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Connection, select

from bot.ledger.schema import SENT, deliveries, outbox, paper_sources

__all__ = ["History", "daily_history"]


@dataclass(slots=True)
class History:
    """name/email -> UTC date -> count."""

    papers: dict[str, Counter[date]] = field(default_factory=dict)
    matches: dict[str, Counter[date]] = field(default_factory=dict)
    emails: dict[str, Counter[date]] = field(default_factory=dict)


def daily_history(conn: Connection, since: datetime) -> History:
    """Papers first listed per source, matches queued and emails sent per subscriber, per day
    from `since` on."""
    history = History()
    listed = select(paper_sources.c.source, paper_sources.c.first_seen).where(
        paper_sources.c.first_seen >= since
    )
    for name, when in conn.execute(listed):
        history.papers.setdefault(name, Counter())[when.date()] += 1
    queued = select(deliveries.c.email, deliveries.c.queued_at).where(
        deliveries.c.queued_at >= since
    )
    for email, when in conn.execute(queued):
        history.matches.setdefault(email, Counter())[when.date()] += 1
    sent = select(outbox.c.email, outbox.c.finished_at).where(
        outbox.c.state == SENT, outbox.c.finished_at >= since
    )
    for email, when in conn.execute(sent):
        history.emails.setdefault(email, Counter())[when.date()] += 1
    return history

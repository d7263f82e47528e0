"""Which digest is due: pure calendar arithmetic in the subscriber's timezone.

A daily or weekly digest belongs to a *period* that starts at a boundary: the subscriber's
`send_at` (on `day` for weekly) in their timezone. The database remembers the boundary of the last
digest sent; a digest is due when the latest boundary is later than that one. So a trigger that
fires twice, late, or not at all (downtime) still gives one digest per period, and after a
downtime there is one catch-up digest, not one per missed period. Keying on the boundary instant
rather than the local date keeps a timezone edit from sending a period twice or skipping one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.models import WEEKDAYS, Subscriber

__all__ = ["Period", "current_period", "due_period", "next_boundary"]


@dataclass(frozen=True, slots=True)
class Period:
    """A digest period: its cadence and the UTC instant it starts; `key` names it in the outbox."""

    cadence: str
    start: datetime  # aware, UTC

    @property
    def key(self) -> str:
        return f"{self.cadence}@{self.start.strftime('%Y-%m-%dT%H:%MZ')}"

    @classmethod
    def from_key(cls, key: str) -> Period:
        cadence, _, when = key.partition("@")
        return cls(cadence, datetime.strptime(when, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC))


def _boundary(subscriber: Subscriber, day: date) -> datetime:
    """The UTC instant of `send_at` on local `day`.

    zoneinfo resolves a wall time that does not exist (spring forward) or exists twice (fall back)
    by `fold`; fold=0 takes the earlier offset, so each local date has exactly one boundary.
    """
    local = datetime.combine(day, subscriber.send_at, tzinfo=ZoneInfo(subscriber.timezone))
    return local.astimezone(UTC)


def current_period(subscriber: Subscriber, now: datetime) -> Period | None:
    """The period `now` falls in (the latest boundary at or before `now`); None for instant."""
    if subscriber.cadence == "instant":
        return None
    today = now.astimezone(ZoneInfo(subscriber.timezone)).date()
    # Look back far enough for a weekly boundary; at most 8 local dates are ever tried.
    for back in range(8):
        day = today - timedelta(days=back)
        if subscriber.cadence == "weekly" and WEEKDAYS[day.weekday()] != subscriber.day:
            continue
        start = _boundary(subscriber, day)
        if start <= now:
            return Period(subscriber.cadence, start)
    raise AssertionError("a boundary always lies within 8 days")  # pragma: no cover


def due_period(subscriber: Subscriber, now: datetime, last: datetime | None) -> Period | None:
    """The period whose digest is owed now, given the boundary of the last digest sent (or None).

    None for instant subscribers (they are sent after each poll) and when the current period's
    digest was already sent, or a later one was (a timezone moved west).
    """
    period = current_period(subscriber, now)
    if period is None:
        return None
    if last is not None and period.start <= last:
        return None
    return period


def next_boundary(subscriber: Subscriber, now: datetime) -> datetime | None:
    """The first boundary strictly after `now` (when to wake up next); None for instant."""
    if subscriber.cadence == "instant":
        return None
    today = now.astimezone(ZoneInfo(subscriber.timezone)).date()
    for ahead in range(9):
        day = today + timedelta(days=ahead)
        if subscriber.cadence == "weekly" and WEEKDAYS[day.weekday()] != subscriber.day:
            continue
        start = _boundary(subscriber, day)
        if start > now:
            return start
    raise AssertionError("a boundary always lies within 9 days")  # pragma: no cover

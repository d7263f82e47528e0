"""Which digests are due, with an injected clock: DST, downtime, weekly, timezone edits."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.mail.periods import Period, current_period, due_period, next_boundary
from bot.models import Subscriber

STEP = timedelta(minutes=10)


def simulate(subscriber: Subscriber, start: datetime, end: datetime, *, gaps=(), changes=()):
    """Tick a clock from start to end; send whenever a digest is due; return the periods sent.

    `gaps` are (from, to) spans with the daemon down (no ticks); `changes` are (at, subscriber)
    edits of the settings taking effect at that instant.
    """
    sent: list[Period] = []
    last = None
    now = start
    pending_changes = sorted(changes, key=lambda c: c[0])
    while now < end:
        while pending_changes and pending_changes[0][0] <= now:
            subscriber = pending_changes.pop(0)[1]
        if not any(a <= now < b for a, b in gaps):
            period = due_period(subscriber, now, last)
            if period is not None:
                assert period.start <= now
                sent.append(period)
                last = period.start
        now += STEP
    return sent


def local_dates(periods, tz: str) -> Counter:
    return Counter(p.start.astimezone(ZoneInfo(tz)).date() for p in periods)


@pytest.mark.parametrize(
    ("tz", "change_day"),
    [
        ("Europe/Berlin", "2026-03-29"),  # spring forward: 02:00 -> 03:00
        ("Europe/Berlin", "2026-10-25"),  # fall back: 03:00 -> 02:00, 02:30 happens twice
        ("America/New_York", "2026-03-08"),
        ("America/New_York", "2026-11-01"),
    ],
)
@pytest.mark.parametrize("send_at", [time(2, 30), time(8, 0), time(0, 0), time(23, 59)])
def test_exactly_one_daily_digest_each_day_across_dst(tz: str, change_day: str, send_at: time):
    person = Subscriber("a@example.org", timezone=tz, send_at=send_at, cadence="daily")
    day = datetime.fromisoformat(change_day).replace(tzinfo=ZoneInfo(tz))
    start, end = day - timedelta(days=3), day + timedelta(days=4)
    sent = simulate(person, start.astimezone(UTC), end.astimezone(UTC))
    counts = local_dates(sent, tz)
    first = (start + timedelta(days=1)).date()
    expected_days = [first + timedelta(days=i) for i in range(5)]
    assert all(counts[d] == 1 for d in expected_days), counts
    assert max(counts.values()) == 1
    for period in sent:  # each sent at the wall time asked for, or the hour after a gap
        local = period.start.astimezone(ZoneInfo(tz))
        assert (local.hour, local.minute) in {
            (send_at.hour, send_at.minute),
            ((send_at.hour + 1) % 24, send_at.minute),
        }


def test_a_trigger_firing_twice_or_late_gives_one_digest():
    person = Subscriber("a@example.org", timezone="Europe/Berlin", send_at=time(8, 0))
    at_eight = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    first = due_period(person, at_eight, None)
    assert first is not None and first.start == at_eight
    assert due_period(person, at_eight + timedelta(seconds=1), first.start) is None
    assert due_period(person, at_eight + timedelta(hours=5), first.start) is None  # late, again
    assert due_period(person, at_eight - timedelta(minutes=1), first.start) is None


def test_three_days_down_gives_one_catch_up_digest():
    person = Subscriber("a@example.org", timezone="America/New_York", send_at=time(8, 0))
    start = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    down = (datetime(2026, 11, 3, 0, 0, tzinfo=UTC), datetime(2026, 11, 6, 1, 0, tzinfo=UTC))
    sent = simulate(person, start, datetime(2026, 11, 6, 2, 0, tzinfo=UTC), gaps=[down])
    # At the start (07:00 local) the 1 Nov period is owed; 2 Nov 08:00 comes while up; then down
    # through 3, 4 and 5 Nov 08:00; on restart (6 Nov 01:00Z = 5 Nov 20:00 local) one catch-up
    # digest for the 5 Nov period, not three.
    assert [p.key for p in sent] == [
        "daily@2026-11-01T13:00Z",
        "daily@2026-11-02T13:00Z",
        "daily@2026-11-05T13:00Z",
    ]


def test_weekly_digests_come_on_their_day_once_a_week():
    person = Subscriber(
        "a@example.org", timezone="Europe/Berlin", send_at=time(9, 0), cadence="weekly", day="wed"
    )
    start = datetime(2026, 10, 1, tzinfo=UTC)  # a Thursday: the 30 Sep period is owed at once
    sent = simulate(person, start, start + timedelta(days=35))
    local = [p.start.astimezone(ZoneInfo("Europe/Berlin")) for p in sent]
    assert {d.strftime("%a %H:%M") for d in local} == {"Wed 09:00"}
    assert len(sent) == 6  # 30 Sep, then 7, 14, 21, 28 Oct (DST ends 25 Oct) and 4 Nov
    assert all(b - a >= timedelta(days=6, hours=23) for a, b in zip(local, local[1:], strict=False))


@pytest.mark.parametrize(
    "new_tz", ["America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "Pacific/Pago_Pago"]
)
def test_a_timezone_edit_sends_no_period_twice_and_skips_none(new_tz: str):
    person = Subscriber("a@example.org", timezone="Europe/Berlin", send_at=time(8, 0))
    moved = replace(person, timezone=new_tz)
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    edit = datetime(2026, 11, 4, 9, 30, tzinfo=UTC)
    sent = simulate(person, start, datetime(2026, 11, 9, tzinfo=UTC), changes=[(edit, moved)])
    starts = [p.start for p in sent]
    assert starts == sorted(set(starts))  # strictly later each time: no period twice
    before = [p for p in sent if p.start <= edit]
    after = [p for p in sent if p.start > edit]
    assert len(local_dates(before, "Europe/Berlin")) == len(before)
    # after the edit, every boundary of the new timezone up to the end got exactly one digest
    boundaries = []
    t = edit
    while (b := next_boundary(moved, t)) < datetime(2026, 11, 9, tzinfo=UTC):
        boundaries.append(b)
        t = b
    assert [p.start for p in after] == boundaries
    assert all(b - a <= timedelta(days=2) for a, b in zip(starts, starts[1:], strict=False))


def test_instant_subscribers_have_no_period():
    person = Subscriber("a@example.org", cadence="instant")
    now = datetime(2026, 11, 22, tzinfo=UTC)
    assert current_period(person, now) is None and due_period(person, now, None) is None
    assert next_boundary(person, now) is None


def test_period_keys_round_trip():
    period = Period("daily", datetime(2026, 3, 29, 6, 0, tzinfo=UTC))
    assert period.key == "daily@2026-03-29T06:00Z"
    assert Period.from_key(period.key) == period

"""Cron (SPEC section 7, issue 13): `bot once` every few minutes keeps each cadence.

The README's old recipe (`*/30 * * * * bot once`) made every subscriber an instant one: a weekly
digest went out on a Thursday. Here the same CLI function cron runs is called in-process every
30 simulated minutes over two weeks, the clock given through BOT_NOW (read only at the CLI edge,
for tests), while a feed gains a paper every six hours: each subscriber gets exactly one email per
period, in the first run at or after their send_at, and `bot send --all` then sends what is
pending at once.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main

START = datetime(2026, 3, 4, 0, 0, tzinfo=UTC)  # a Wednesday; Berlin is UTC+1 until March 29
STEP = timedelta(minutes=30)
DAILY, WEEKLY = "dora@example.org", "wes@example.org"


def _feed(count: int) -> str:
    items = "".join(
        f"<item><title>Sparse study {n}</title><link>https://ex.org/{n}</link>"
        f"<description>Sparse attention, case {n}.</description></item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://ex.org/</link><description>d</description>{items}</channel></rss>"
    )


def _settings(folder: Path) -> Path:
    config = folder / "settings.toml"
    config.write_text(
        '[mail]\ntransport = "maildir"\nmaildir = "outbox"\n'
        '[[sources]]\nname = "feed"\ntype = "feed"\nurl = "file://'
        + str(folder / "feed.xml")
        + '"\n'
        f'[[subscribers]]\nemail = "{DAILY}"\nkeywords = ["sparse"]\ncadence = "daily"\n'
        'send_at = "08:05"\ntimezone = "Europe/Berlin"\n'
        f'[[subscribers]]\nemail = "{WEEKLY}"\nkeywords = ["sparse"]\ncadence = "weekly"\n'
        'day = "mon"\nsend_at = "09:30"\n',
        encoding="utf-8",
    )
    return config


def _new_mail(folder: Path, seen: set[str]) -> list[email.message.EmailMessage]:
    box = folder / "outbox" / "new"
    fresh = sorted(p for p in box.iterdir() if p.name not in seen) if box.exists() else []
    seen.update(p.name for p in fresh)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in fresh]


def _run(monkeypatch, config: Path, now: datetime, *args: str) -> int:
    monkeypatch.setenv("BOT_NOW", now.isoformat())
    return main(["--config", str(config), *args])


@pytest.mark.timeout(600)  # 672 runs of `bot once`: about a minute on a busy machine
def test_once_every_30_minutes_for_two_weeks_keeps_daily_and_weekly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    config = _settings(tmp_path)
    feed = tmp_path / "feed.xml"
    feed.write_text(_feed(0), encoding="utf-8")
    seen: set[str] = set()
    got: dict[str, list[tuple[datetime, int]]] = {DAILY: [], WEEKLY: []}
    papers = 0
    now = START
    while now < START + timedelta(days=14):
        # A paper every six hours, ten minutes past (the listing grows; old items stay listed).
        if now.minute == 0 and now.hour % 6 == 0 and now > START:
            papers += 1
            feed.write_text(_feed(papers), encoding="utf-8")
        assert _run(monkeypatch, config, now, "once") == 0, capsys.readouterr()
        for message in _new_mail(tmp_path, seen):
            count = int(message["Subject"].split()[0])
            got[str(message["To"])].append((now, count))
        now += STEP
    capsys.readouterr()

    # Daily at 08:05 Berlin = 07:05 UTC: the 07:30 run, every day from the first (papers from
    # 00:00 UTC on wait for it), one email each day.
    daily_times = [when for when, _ in got[DAILY]]
    assert daily_times == [START + timedelta(days=d, hours=7, minutes=30) for d in range(14)], (
        daily_times
    )
    # Weekly, Monday 09:30 UTC: the 09:30 run of March 9 and March 16, nothing on other days.
    weekly_times = [when for when, _ in got[WEEKLY]]
    assert weekly_times == [
        datetime(2026, 3, 9, 9, 30, tzinfo=UTC),
        datetime(2026, 3, 16, 9, 30, tzinfo=UTC),
    ], weekly_times
    # Every paper exactly once, none lost: papers 1..N, the newest still waiting.
    daily_papers = sum(n for _, n in got[DAILY])
    weekly_papers = sum(n for _, n in got[WEEKLY])
    # Papers first seen by 07:05 UTC of day 13 (Mar 17): every 6 h from Mar 4 06:00 to Mar 17
    # 06:00 is 13 days of 4, and the first one.
    assert daily_papers == 4 * 13 + 1
    # First seen by Monday March 16 09:30: from Mar 4 06:00 to Mar 16 06:00.
    assert weekly_papers == 4 * 12 + 1
    assert papers == 4 * 13 + 3  # up to Mar 17 18:00

    # Plain `bot send` now: nothing is due, and it says what waits and when.
    last = now
    assert _run(monkeypatch, config, last, "send") == 0
    out = capsys.readouterr().out
    assert out.startswith("0 emails sent with 0 papers\n"), out
    assert f"{DAILY}: " in out and "waiting for the digest at 2026-03-18 07:05 UTC" in out
    assert f"{WEEKLY}: " in out and "waiting for the digest at 2026-03-23 09:30 UTC" in out
    assert _new_mail(tmp_path, seen) == []

    # `bot send --all`: what is pending goes at once, one email each, then nothing is left.
    assert _run(monkeypatch, config, last, "send", "--all") == 0
    out = capsys.readouterr().out
    assert out.startswith("2 emails sent with "), out
    late = {str(m["To"]): int(m["Subject"].split()[0]) for m in _new_mail(tmp_path, seen)}
    assert late == {DAILY: papers - daily_papers, WEEKLY: papers - weekly_papers}
    assert _run(monkeypatch, config, last, "send", "--all") == 0
    assert capsys.readouterr().out == "0 emails sent with 0 papers\n"

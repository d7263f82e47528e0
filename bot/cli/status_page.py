"""`bot status --html FILE`: one self-contained page (inline SVG, inline CSS, no script, nothing
fetched): papers per day per source for the last 30 days with failing days marked, and per
subscriber the matches and emails per day — to tune queries and spot a dead source (issue 13).

The ledger keeps each source's current failure (failures in a row since its last success), not
every past poll: the days from the last success to the last failed poll are the ones marked.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path

from jinja2 import Environment

from bot.cli.stops import stop_words
from bot.ledger import SourceState, Status
from bot.models import Settings

__all__ = ["write_status_page", "DAYS"]

DAYS = 30
BAR_WIDTH, CHART_HEIGHT = 16, 60


def write_status_page(
    path: Path, status: Status, history, settings: Settings, now: datetime
) -> None:
    today = now.date()
    days = [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    states = {s.name: s for s in status.sources}
    names = sorted({s.name for s in settings.sources} | set(history.papers))
    sources = [
        _chart(
            name,
            [history.papers.get(name, {}).get(day, 0) for day in days],
            days,
            failing=_failing_days(states.get(name), days),
            state=states.get(name),
        )
        for name in names
    ]
    people = sorted(
        {s.email.lower() for s in settings.subscribers} | set(history.matches) | set(history.emails)
    )
    subscribers = [
        {
            "email": email,
            "chart": _chart(
                email,
                [history.matches.get(email, {}).get(day, 0) for day in days],
                days,
                emails=[history.emails.get(email, {}).get(day, 0) for day in days],
            ),
            "matches": sum(history.matches.get(email, {}).values()),
            "emails": sum(history.emails.get(email, {}).values()),
            "stopped": stop_words(status.stopped[email]) if email in status.stopped else None,
        }
        for email in people
    ]
    template = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
        files("bot.cli").joinpath("status_page.html.j2").read_text(encoding="utf-8")
    )
    page = template.render(
        generated=now.strftime("%Y-%m-%d %H:%M UTC"),
        first=days[0].isoformat(),
        last=days[-1].isoformat(),
        papers=status.papers,
        sources=sources,
        subscribers=subscribers,
        width=BAR_WIDTH * DAYS,
        height=CHART_HEIGHT,
        bar=BAR_WIDTH,
        labels=[(i * BAR_WIDTH, day.strftime("%d %b")) for i, day in enumerate(days) if i % 7 == 0],
    )
    path.write_text(page, encoding="utf-8")


def _chart(
    name: str,
    counts: list[int],
    days: list[date],
    *,
    failing: set[date] | None = None,
    emails: list[int] | None = None,
    state: SourceState | None = None,
) -> dict:
    """One chart's bars (x, y, height), failing-day marks and email marks, in SVG units."""
    top = max([*counts, *(emails or []), 1])
    bars = []
    for index, (day, count) in enumerate(zip(days, counts, strict=True)):
        height = round(CHART_HEIGHT * count / top, 1)
        bars.append(
            {
                "x": index * BAR_WIDTH + 1,
                "y": CHART_HEIGHT - height,
                "height": height,
                "day": day.isoformat(),
                "count": count,
                "failed": day in (failing or set()),
                "emails": emails[index] if emails else 0,
            }
        )
    return {
        "name": name,
        "bars": bars,
        "total": sum(counts),
        "top": top,
        "failing": bool(failing),
        "error": state.last_error if state and state.consecutive_failures else None,
        "last_success": state.last_success.strftime("%Y-%m-%d %H:%M UTC")
        if state and state.last_success
        else None,
    }


def _failing_days(state: SourceState | None, days: list[date]) -> set[date]:
    """The days after the last success (or the last poll's day) up to the last failed poll."""
    if state is None or not state.consecutive_failures or state.last_poll is None:
        return set()
    last = state.last_poll.date()
    start = min(state.last_success.date() + timedelta(days=1), last) if state.last_success else last
    return {day for day in days if start <= day <= state.last_poll.date()}

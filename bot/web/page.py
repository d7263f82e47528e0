"""The recipient's page as HTML (pure: values in, the page out); the server is bot.web.server.

Shows the address partly masked, the queries, the cadence, the last emails and the buttons that
fit the recipient's state. Autoescaped: queries and subjects (paper titles) are text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from functools import cache
from importlib.resources import files

import jinja2

from bot.models import Subscriber
from bot.text import one_line
from bot.web.tokens import mask

__all__ = ["Page", "render_page", "cadence_words", "subject_of", "DONE"]

# The line shown after a button was pressed, by action.
DONE = {
    "unsubscribe": "You are unsubscribed. No more digests will be sent to this address.",
    "pause": "Paused. Nothing is sent until you resume.",
    "resume": "Resumed. The next digest comes with the next papers that match.",
}


@dataclass(frozen=True, slots=True)
class Page:
    """What the page shows. `stop`: "" (sending), "paused", "unsubscribed" or "suspended"."""

    email: str
    subscriber: Subscriber | None  # None: not (or no longer) in the settings file
    stop: str = ""
    since: datetime | None = None
    emails: tuple[tuple[datetime | None, str], ...] = ()  # (sent at, subject), newest first
    done: str | None = None  # an action just done (a key of DONE)


def render_page(page: Page) -> str:
    """The page's HTML."""
    subscriber = page.subscriber
    return _template().render(
        address=mask(page.email),
        subscribed=subscriber is not None,
        operator_paused=bool(subscriber and subscriber.paused),
        queries=list(subscriber.keywords) if subscriber else [],
        cadence=cadence_words(subscriber) if subscriber else "",
        stop=page.stop,
        since=_day(page.since),
        emails=[{"date": _day(when) or "?", "subject": subject} for when, subject in page.emails],
        done=DONE.get(page.done or ""),
    )


def cadence_words(subscriber: Subscriber) -> str:
    """ "daily at 08:00 (Europe/Berlin)", "weekly on Monday at 08:00 (UTC)", "instant: …"."""
    if subscriber.cadence == "instant":
        return "instant: soon after new papers match"
    at = f"at {subscriber.send_at.strftime('%H:%M')} ({subscriber.timezone})"
    if subscriber.cadence == "weekly":
        return f"weekly on {_WEEKDAY.get(subscriber.day, subscriber.day)} {at}"
    return f"daily {at}"


def subject_of(head: bytes) -> str:
    """The Subject of a stored email's header block, decoded, on one line."""
    message = BytesHeaderParser(policy=default_policy).parsebytes(head)
    try:
        return one_line(str(message.get("Subject", "")), 200)
    except (ValueError, TypeError, IndexError):  # a header the parser cannot decode
        return ""


_WEEKDAY = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


def _day(when: datetime | None) -> str | None:
    return when.strftime("%Y-%m-%d") if when else None


@cache
def _template() -> jinja2.Template:
    text = files("bot.web").joinpath("page.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(text)

"""Source health: when a failing or empty source deserves one ERROR line, and Retry-After waits.

Pure: a source's state before this poll, `now` and this poll's result in, a decision out. Every
decision is derived from the stored SourceState alone, and fires on a transition (a threshold
crossed between the previous poll and this one), so it is logged once per episode, not per poll
(Mailman logs "SMTP down" once per outage; rss2email #195 asks for errors only when they persist).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.models import SourceState

__all__ = [
    "FAILING_ALERT_AFTER",
    "MAX_RETRY_AFTER",
    "failure_alert",
    "empty_alert",
    "asked_to_retry",
    "retry_wait",
]

FAILING_ALERT_AFTER = timedelta(days=1)
MAX_RETRY_AFTER = 86_400  # seconds: a server's Retry-After is honoured up to one day (SPEC 3)
# arXiv's listings change at midnight US/Eastern (FORMATS.md section 3): Monday 02:00 UTC is still
# Sunday there and the feed is empty. A day counts as a weekday only when it is one in both zones.
_EASTERN = ZoneInfo("America/New_York")
_RETRY_AFTER = re.compile(r"asked to retry after (\d+) s")  # as asked_to_retry writes it


def failure_alert(before: SourceState | None, now: datetime, error: str) -> str | None:
    """The alert for a failed poll, or None: once when a source that never succeeded first fails,
    and once when the failure streak passes FAILING_ALERT_AFTER since the last success (the
    previous poll was before that point, this one is at or after it).
    """
    if before is None or before.last_success is None:
        if before is None or before.consecutive_failures == 0:
            return f"has never been fetched successfully: {error}"
        return None
    if before.consecutive_failures == 0:
        return None  # the first failure of a streak: a warning, not yet an alert
    threshold = before.last_success + FAILING_ALERT_AFTER
    previous = before.last_poll or before.last_success
    if previous < threshold <= now:
        since = before.last_success.isoformat(timespec="minutes")
        failed = before.consecutive_failures + 1
        return f"failing for more than a day (last success {since}, {failed} failed polls): {error}"
    return None


def empty_alert(before: SourceState | None, now: datetime, count: int) -> str | None:
    """The alert for a successful poll listing nothing, or None: once, when a source that listed
    papers at its previous success lists none on a weekday (weekend empties are normal; a holiday
    gives one alert, and the next empty weekday none, because the previous count is then 0).
    """
    if count or before is None or not before.last_count or before.last_success is None:
        return None
    if not _weekday(now):
        return None
    day = now.strftime("%A")
    when = before.last_success.isoformat(timespec="minutes")
    return (
        f"listed no papers on a weekday ({day}) after listing {before.last_count} at {when}; "
        "normal on a holiday, otherwise check the source"
    )


def asked_to_retry(seconds: int) -> str:
    """How a poll's error says the server asked for a wait; retry_wait reads it back from the
    stored error."""
    return f"asked to retry after {seconds} s"


def retry_wait(before: SourceState | None, now: datetime) -> int | None:
    """Seconds still to wait before asking a source again, when its last poll failed with "asked
    to retry after N s" (fetch.RetryLater) less than N s ago; None when it may be polled.

    N is capped at MAX_RETRY_AFTER, whatever was stored: an older version stored
    `Retry-After: 999999999999` as is, and every later poll died here (issue 11 item 5).
    """
    if before is None or not before.last_error or before.last_poll is None:
        return None
    asked = _RETRY_AFTER.search(before.last_error)
    if not asked:
        return None
    asked_for = min(int(asked.group(1)[:12]), MAX_RETRY_AFTER)
    left = before.last_poll + timedelta(seconds=asked_for) - now
    seconds = int(left.total_seconds() + 0.999)
    return seconds if seconds > 0 else None


def _weekday(now: datetime) -> bool:
    """Whether `now` is Monday to Friday both in UTC and in US/Eastern."""
    return now.weekday() < 5 and now.astimezone(_EASTERN).weekday() < 5

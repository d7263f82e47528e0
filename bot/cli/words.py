"""Counted words for the command line: `1 email`, `2 emails` (issue 13: plurals right)."""

from __future__ import annotations

from datetime import datetime

__all__ = ["plural", "when", "EXIT_CODES", "COMMON"]

# The end of every command's help (SPEC section 7).
EXIT_CODES = """exit codes:
  0  done
  1  the work failed (a source, the mail server): nothing is lost, what was not sent is retried
  2  bad settings or arguments"""
COMMON = "--config PATH and --log-level LEVEL may come before or after the command (bot --help)."

_IRREGULAR = {"delivery": "deliveries", "query": "queries", "entry": "entries"}


def plural(count: int, word: str) -> str:
    """`count` and `word`, the word in its plural form unless the count is one."""
    if count == 1:
        return f"1 {word}"
    return f"{count} {_IRREGULAR.get(word, word + 's')}"


def when(moment: datetime | None, now: datetime) -> str:
    """A time for an operator: ISO in UTC to the minute, and how far from `now` it is."""
    if moment is None:
        return "?"
    stamp = moment.strftime("%Y-%m-%d %H:%M UTC")
    seconds = int((moment - now).total_seconds())
    if seconds <= 0:
        return f"{stamp} (now)"
    minutes = (seconds + 59) // 60
    if minutes < 60:
        return f"{stamp} (in {plural(minutes, 'minute')})"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{stamp} (in {hours} h {minutes:02d} min)"
    return f"{stamp} (in {plural(hours // 24, 'day')})"

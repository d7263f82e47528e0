"""How `bot status` and `bot subscribers list/resume` word a recipient's stop
(bot.ledger.recipients): one sentence each, the same in every command."""

from __future__ import annotations

from typing import Any

from bot.text import one_line

__all__ = ["stop_words", "stop_json", "read_stops"]


def stop_words(stop) -> str:
    """`unsubscribed by the recipient 2026-12-03 10:45 UTC (one-click)`, `suspended 2026-… :
    the mail server refused the address in 3 emails in a row: 550 …`."""
    at = stop.since.strftime("%Y-%m-%d %H:%M UTC") if stop.since else "?"
    if stop.state == "suspended":
        reply = one_line(stop.how or "", 200)  # a server's text: one safe line
        return f"suspended {at}: the mail server refused the address 3 times in a row: {reply}"
    return f"{stop.state} by the recipient {at} ({one_line(stop.how or '?')})"


def stop_json(stop) -> dict[str, Any] | None:
    if stop is None:
        return None
    return {
        "state": stop.state,
        "since": stop.since.isoformat() if stop.since else None,
        "how": stop.how,
    }


def read_stops(settings) -> dict:
    """The stops in the ledger (lower-case address -> RecipientState); {} when the ledger is a
    SQLite file not created yet (listing subscribers creates no database)."""
    from bot.ledger import stops_in

    return stops_in(settings.database)

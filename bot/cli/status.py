"""What `bot status` and `bot search --json` print: the ledger in words or in JSON (SPEC 7)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from bot.ledger import DELIVERY_STATES, SourceState, Status
from bot.links import scrub
from bot.models import Paper, Settings
from bot.text import one_line

__all__ = ["print_status", "paper_json"]


def print_status(status: Status, settings: Settings, *, as_json: bool) -> None:
    """Papers seen, each source's health, each subscriber's deliveries, emails and last error.

    Every configured source and subscriber is listed, polled or mailed yet or not.
    """
    status = _with_configured(status, settings)
    if as_json:
        print(json.dumps(_status_json(status), indent=2, ensure_ascii=False))
        return
    print(f"papers seen: {status.papers}")
    for s in status.sources:
        if s.last_poll is None:
            print(f"source {s.name}: never polled")
            continue
        last = _stamp(s.last_poll)
        if s.consecutive_failures:
            since = _stamp(s.last_success) or "never"
            health = (
                f"failing x{s.consecutive_failures} (last success {since}): {_shown(s.last_error)}"
            )
        else:
            health = "ok"
        print(f"source {s.name}: last poll {last}, {s.last_count} listed, {health}")
    for email, counts in sorted(status.deliveries.items()):
        print(f"subscriber {email}: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
        waiting = status.emails.get(email, {})
        unsent = waiting.get("pending", 0) + waiting.get("sending", 0)
        if unsent:
            print(f"  {unsent} email(s) waiting to be sent")
        if email in status.errors:
            when, error = status.errors[email]
            print(f"  last error {_stamp(when) or '?'}: {_shown(error)}")


def _shown(text: str | None) -> str:
    """Text from a server (stored by any version) as one line without control characters: an
    escape sequence in a reply must not drive the operator's terminal (issue 11 item 10)."""
    return one_line(text or "")


def _with_configured(status: Status, settings: Settings) -> Status:
    known = {s.name for s in status.sources}
    sources = status.sources + [
        SourceState(source.name) for source in settings.sources if source.name not in known
    ]
    empty = dict.fromkeys(DELIVERY_STATES, 0)
    deliveries = {s.email.lower(): dict(empty) for s in settings.subscribers}
    deliveries.update(status.deliveries)
    return replace(status, sources=sorted(sources, key=lambda s: s.name), deliveries=deliveries)


def paper_json(paper: Paper, source_urls: Iterable[str] = ()) -> dict[str, Any]:
    """One paper as `bot search --json` prints it; its link as an email shows it (SPEC section
    3: never a source's URL, its credentials or token — a ledger from before may hold those)."""
    return {
        "id": paper.id,
        "title": paper.title,
        "url": scrub(paper.url, source_urls) or "",
        "sources": list(paper.sources),
        "first_seen": _iso(paper.first_seen),
        "published": _iso(paper.published),
        "authors": list(paper.authors),
        "categories": list(paper.categories),
    }


def _status_json(status: Status) -> dict[str, Any]:
    people = sorted(set(status.deliveries) | set(status.emails) | set(status.errors))
    return {
        "papers": status.papers,
        "sources": [_source_json(s) for s in status.sources],
        "deliveries": status.deliveries,
        "subscribers": [
            {
                "email": email,
                "deliveries": status.deliveries.get(email, {}),
                "emails": status.emails.get(email, {}),
                "last_error": _error_json(status.errors.get(email)),
            }
            for email in people
        ],
    }


def _source_json(s: SourceState) -> dict[str, Any]:
    return {
        "name": s.name,
        "last_poll": _iso(s.last_poll),
        "last_success": _iso(s.last_success),
        "last_error": s.last_error,
        "consecutive_failures": s.consecutive_failures,
        "last_count": s.last_count,
    }


def _error_json(error) -> dict[str, Any] | None:
    if error is None:
        return None
    when, text = error
    return {"at": _iso(when), "error": text}


def _iso(when) -> str | None:
    return when.isoformat() if when else None


def _stamp(when) -> str | None:
    return when.isoformat(timespec="seconds") if when else None

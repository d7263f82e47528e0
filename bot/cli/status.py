"""What `bot status` and `bot search --json` print: the ledger in words or in JSON (SPEC 7)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.cli.stops import stop_json, stop_words
from bot.cli.words import plural, when
from bot.ledger import DELIVERY_STATES, SourceState, Status
from bot.links import scrub
from bot.mail.periods import next_boundary
from bot.models import Paper, Settings, Source
from bot.sources.health import retry_wait
from bot.text import one_line

__all__ = ["print_status", "paper_json"]


def print_status(
    status: Status, settings: Settings, *, as_json: bool, now: datetime, plans=None
) -> None:
    """Papers seen, each source's health and next poll, each subscriber's deliveries, emails,
    next email and next retry, last error, and a stop by the recipient or their server.

    Every configured source and subscriber is listed, polled or mailed yet or not. The last good
    poll and the current failure are said apart (issue 13: "75 listed, failing x1" mixed them).
    """
    status = _with_configured(status, settings)
    plans = plans or {}
    every = {s.name: s for s in settings.sources}
    if as_json:
        print(json.dumps(_status_json(status, every, plans, now), indent=2, ensure_ascii=False))
        return
    print(f"papers seen: {status.papers}")
    for s in status.sources:
        upcoming = next_poll(every.get(s.name), s, now)
        then = f"; next poll {when(upcoming, now)}" if upcoming else ""
        if s.last_poll is None:
            print(f"source {s.name}: never polled{then}")
            continue
        if s.last_success is None:
            good = "no good poll yet"
        else:
            good = (
                f"last good poll {_clock(s.last_success)}: {plural(s.last_count, 'paper')} listed"
            )
        if s.consecutive_failures:
            failing = (
                f"; failing now: {plural(s.consecutive_failures, 'poll')} in a row failed, the "
                f"last {_clock(s.last_poll)}: {_shown(s.last_error)}"
            )
        else:
            failing = ", ok"
        print(f"source {s.name}: {good}{failing}{then}")
    for email, counts in sorted(status.deliveries.items()):
        print(f"subscriber {email}: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
        waiting = status.emails.get(email, {})
        unsent = waiting.get("pending", 0) + waiting.get("sending", 0)
        plan = plans.get(email, {})
        stop = status.stopped.get(email)
        if stop is not None:
            print(f"  {stop_words(stop)}: nothing is sent ('bot subscribers resume {email}')")
        if plan.get("paused"):
            print("  paused: nothing is sent; matches are kept for later")
        if unsent:
            retry = plan.get("next_retry")
            later = f", next retry {when(retry, now)}" if retry else ""
            print(f"  {plural(unsent, 'email')} waiting to be sent{later}")
        if stop is not None:
            pass  # no next email to announce
        elif plan.get("next_email") and plan.get("papers_waiting"):
            print(f"  next email {when(plan['next_email'], now)}")
        elif plan.get("next_email"):
            print(f"  next digest {when(plan['next_email'], now)}, if papers match by then")
        elif plan.get("cadence") == "instant" and not plan.get("paused"):
            print("  next email: after a poll that finds matches (instant)")
        if email in status.errors:
            when_, error = status.errors[email]
            print(f"  last error {_stamp(when_) or '?'}: {_shown(error)}")


def next_poll(source: Source | None, state: SourceState, now: datetime) -> datetime | None:
    """When the daemon polls `source` next: `every` after its last poll, or later when its
    server asked to wait (Retry-After); now when never polled. None: not in the settings."""
    if source is None:
        return None
    if state.last_poll is None:
        return now
    due = state.last_poll + source.every
    wait = retry_wait(state, now)
    if wait is not None:
        due = max(due, now + timedelta(seconds=wait))
    return due


def subscriber_plans(settings: Settings, ledger, now: datetime) -> dict[str, dict[str, Any]]:
    """Per subscriber: cadence, paused, when the next email goes (None: nothing waits for a
    digest, or instant) and the next retry of an email that waits (None: none)."""
    from bot.cli.cycle import next_email

    last = ledger.outbox.last_periods()
    oldest = ledger.deliveries.oldest_unassigned()
    plans = {}
    for subscriber in settings.subscribers:
        email = subscriber.email.lower()
        upcoming = None
        if subscriber.cadence != "instant" and not subscriber.paused:
            waiting = oldest.get(email)
            upcoming = (
                next_email(subscriber, now, last.get(email), waiting)
                if waiting is not None
                else next_boundary(subscriber, now)
            )
        plans[email] = {
            "cadence": subscriber.cadence,
            "paused": subscriber.paused,
            "next_email": upcoming,
            "papers_waiting": email in oldest,
            "next_retry": ledger.outbox.next_attempt([email]),
        }
    return plans


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


def _status_json(status: Status, every, plans, now: datetime) -> dict[str, Any]:
    people = sorted(
        set(status.deliveries) | set(status.emails) | set(status.errors) | set(status.stopped)
    )
    return {
        "now": _iso(now),
        "papers": status.papers,
        "sources": [_source_json(s, next_poll(every.get(s.name), s, now)) for s in status.sources],
        "deliveries": status.deliveries,
        "subscribers": [
            {
                "email": email,
                "deliveries": status.deliveries.get(email, {}),
                "emails": status.emails.get(email, {}),
                "last_error": _error_json(status.errors.get(email)),
                "cadence": plans.get(email, {}).get("cadence"),
                "paused": plans.get(email, {}).get("paused", False),
                "next_email": _iso(plans.get(email, {}).get("next_email")),
                "next_retry": _iso(plans.get(email, {}).get("next_retry")),
                "papers_waiting": plans.get(email, {}).get("papers_waiting", False),
                "stopped": stop_json(status.stopped.get(email)),
            }
            for email in people
        ],
    }


def _source_json(s: SourceState, upcoming: datetime | None) -> dict[str, Any]:
    return {
        "name": s.name,
        "last_poll": _iso(s.last_poll),
        "last_success": _iso(s.last_success),
        "last_good_poll": {"at": _iso(s.last_success), "listed": s.last_count}
        if s.last_success
        else None,
        "failing": {
            "polls_in_a_row": s.consecutive_failures,
            "last": _iso(s.last_poll),
            "error": s.last_error,
        }
        if s.consecutive_failures
        else None,
        "last_error": s.last_error,
        "consecutive_failures": s.consecutive_failures,
        "last_count": s.last_count,
        "next_poll": _iso(upcoming),
    }


def _error_json(error) -> dict[str, Any] | None:
    if error is None:
        return None
    when, text = error
    return {"at": _iso(when), "error": text}


def _iso(when) -> str | None:
    return when.isoformat() if when else None


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _stamp(when) -> str | None:
    return when.isoformat(timespec="seconds") if when else None

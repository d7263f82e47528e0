"""`bot once`, `bot fetch` and `bot send`: one poll and one send run, told in plain lines.

What is sent is what the daemon would send at `now` (bot.mail.due): cron running `bot once` every
few minutes keeps each subscriber's cadence. `bot send --all` sends every pending email at once.
After a send run the operator is told what still waits and when it goes (issue 13).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from contextlib import nullcontext
from datetime import datetime

from bot.cli.progress import Counted, interactive, poll_progress, send_progress
from bot.cli.words import plural, when
from bot.mail.due import due_now
from bot.mail.periods import Period, due_period, next_boundary
from bot.text import one_line

__all__ = ["run_poll", "run_send"]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED = 0, 1


def run_poll(settings, ledger, now: datetime, *, mark_seen: bool) -> int:
    """Poll every source and say what each gave. On a terminal each source's line comes as it
    finishes; Ctrl-C keeps the finished sources recorded and says so in one line."""
    from bot.poll import poll

    finished: list[str] = []
    live = interactive()

    def shown(outcome) -> None:
        finished.append(outcome.name)
        log.info("source=%s fetched", outcome.name)
        if live:
            progress_line(outcome.name, _outcome_line(outcome)[1])

    try:
        with poll_progress([s.name for s in settings.sources]) if live else nullcontext() as bar:
            progress_line = bar
            report = asyncio.run(
                poll(settings, ledger.papers, now, mark_seen=mark_seen, on_source=shown)
            )
    except KeyboardInterrupt:
        left = [s.name for s in settings.sources if s.name not in finished]
        print(
            f"interrupted: {plural(len(finished), 'finished source')} recorded"
            + (f" ({', '.join(finished)})" if finished else "")
            + (f"; not polled: {', '.join(left)}" if left else ""),
            file=sys.stderr,
        )
        raise
    for outcome in report.sources:
        to_stderr, line = _outcome_line(outcome)
        if not live:
            print(line, file=sys.stderr if to_stderr else sys.stdout)
        elif to_stderr:  # an error stays on stderr, after the live lines
            print(line, file=sys.stderr)
        if outcome.alert and not outcome.error:  # a failure has its own line on every run
            print(f"error: source {outcome.name!r}: {outcome.alert}", file=sys.stderr)
    if mark_seen:
        queued = "no email queued (--mark-seen)"
    else:
        queued = f"{plural(report.queued, 'delivery')} queued"
    print(f"{plural(len(report.new), 'new paper')} recorded, {queued}")
    return EXIT_FAILED if report.failed else EXIT_OK


def _outcome_line(outcome) -> tuple[bool, str]:
    """(whether it is an error, for stderr; the line) for one source's outcome."""
    if outcome.deferred:
        return False, f"{outcome.name}: {outcome.error}"
    if outcome.error:
        return True, f"error: source {outcome.name!r}: {outcome.error}"
    if outcome.unchanged:
        return False, f"{outcome.name}: unchanged since the last poll"
    skipped = f" ({outcome.skipped})" if outcome.skipped else ""
    excluded = f", {outcome.excluded} excluded" if outcome.excluded else ""
    return False, f"{outcome.name}: {plural(outcome.listed, 'paper')} listed{excluded}{skipped}"


def run_send(settings, ledger, now: datetime, *, everything: bool = False) -> int:
    """Send what is due at `now` (everything pending with `everything`); then say what waits."""
    from bot.mail.render import Renderer
    from bot.mail.send import RetryPolicy, SendReport, send
    from bot.mail.transports import open_transports
    from bot.shutdown import until_stopped

    active = [s for s in settings.subscribers if not s.paused]
    if everything:
        ledger.outbox.retry_now(s.email for s in active)
        emails, compose, periods = [s.email.lower() for s in active], None, {}
    else:
        due = due_now(active, ledger, now)
        emails, compose, periods = list(due.emails), due.compose, due.emails

    live = interactive()

    async def run(stop: asyncio.Event):
        async with open_transports(settings.mail, os.environ) as transports:
            return await send(
                settings,
                ledger,
                [Counted(t, advance) for t in transports] if live else transports,
                Renderer(settings.templates),
                now,
                emails=emails,
                period=lambda subscriber: periods.get(subscriber.email.lower()),
                # No silent in-run waits for a retry (issue 13: a send against a dead server took
                # 3 to 32 s saying nothing): the run ends and says when the retry is due.
                policy=RetryPolicy(linger=0),
                stop=stop,
                compose=compose,
            )

    if emails:
        # SIGTERM/SIGINT: the email in flight is finished and recorded, no other is started.
        with send_progress(len(emails)) if live else nullcontext(lambda: None) as advance:
            report, stopped = asyncio.run(until_stopped(run))
    else:
        report, stopped = SendReport(), False
    if report is None:
        print(
            "error: stopped by a signal while an email was in flight; "
            "it stays pending and may arrive twice",
            file=sys.stderr,
        )
        return EXIT_FAILED
    # Each line may quote a mail server: one_line drops the control characters it may hold.
    for line in report.deferred:
        print(f"error: not sent yet, will retry: {one_line(line)}", file=sys.stderr)
    for line in [*report.failed, *report.quarantined]:
        print(f"error: {one_line(line)}", file=sys.stderr)
    if report.stopped:
        print(f"error: sending stopped: {one_line(report.stopped)}", file=sys.stderr)
    if stopped:
        print("error: stopped by a signal; what was not sent stays pending", file=sys.stderr)
    print(
        f"{plural(report.emails, 'email')} sent with {plural(report.papers, 'paper')}"
        + waiting_summary(settings, ledger, now)
    )
    problems = report.deferred or report.failed or report.quarantined or report.stopped or stopped
    return EXIT_FAILED if problems else EXIT_OK


def waiting_summary(settings, ledger, now: datetime) -> str:
    """ "; 3 emails waiting, next retry …" and the digests still to come, one line each; "" when
    nothing waits. An email waiting for its retry is never left unsaid (issue 13)."""
    known = {s.email.lower(): s for s in settings.subscribers}
    waiting = [row for row in ledger.outbox.waiting_emails() if row[0] in known]
    lines = ""
    if waiting:
        retries = [row[2] for row in waiting if row[2] is not None]
        retry = min(retries, default=None)
        later = f", next retry {when(retry, now)}" if retry and retry > now else ""
        lines += f"; {plural(len(waiting), 'email')} waiting to be sent{later}"
        if later:
            lines += " ('bot send --all' sends them now)"
    for email, at, count in digests_to_come(settings, ledger, now):
        lines += f"\n{email}: {plural(count, 'paper')} waiting for the digest at {when(at, now)}"
    return lines


def digests_to_come(settings, ledger, now: datetime) -> list[tuple[str, datetime | None, int]]:
    """(email, when its next email goes, papers waiting) for each subscriber with papers not
    yet in an email. None for when: paused, or instant (after the next poll)."""
    oldest = ledger.deliveries.oldest_unassigned()
    last = ledger.outbox.last_periods()
    found = []
    for subscriber in settings.subscribers:
        email = subscriber.email.lower()
        if email not in oldest or subscriber.paused or subscriber.cadence == "instant":
            continue
        at = next_email(subscriber, now, last.get(email), oldest[email])
        found.append((email, at, len(ledger.deliveries.pending(email))))
    return found


def next_email(subscriber, now: datetime, last_key: str | None, oldest: datetime | None):
    """When the subscriber's next digest goes (a daily/weekly subscriber): `now` when one is owed,
    else the next boundary after the papers waiting were queued."""
    previous = Period.from_key(last_key).start if last_key else None
    period = due_period(subscriber, now, previous)
    if period is not None and oldest is not None and oldest <= period.start:
        return now
    return next_boundary(subscriber, now)

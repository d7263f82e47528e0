"""Send what is owed: render each subscriber's email once into the outbox, then deliver the outbox.

Two phases per run. Fill: each subscriber with deliveries owed and no unfinished email gets one
email (best first: max_items as cards, the rest listed one line each) stored with its bytes and
Message-ID (one commit). Deliver: `concurrency` workers, one transport (connection) each, claim due
rows one at a time and send the stored bytes; sent/failed/deferred is one commit per step (SPEC
section 4, RELIABILITY finding 1). Temporary failures are retried with exponential backoff and
jitter, within the run when due soon enough, else in a later run; a breaker ends the run after
`breaker` consecutive failures, nothing lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr

from bot.errors import MessageTooBigError, PermanentSendError, RecipientRefusedError, SendError
from bot.ledger import Ledger, OffLoop, OutboxEmail, new_owner
from bot.mail.digest import Composed, compose_for
from bot.mail.fill import MailLedger, fill, split
from bot.mail.render import Renderer
from bot.mail.retry import RetryPolicy, SendReport
from bot.models import Settings, Subscriber

__all__ = ["SendReport", "RetryPolicy", "Composed", "MailLedger", "send", "compose_for"]

log = logging.getLogger(__name__)

# Rows a worker claims per commit. Claimed rows a killed process never tried are reclaimed at once
# (their owner is gone), so a bigger batch costs nothing in safety, only fairness between processes.
_CLAIM_BATCH = 8
_DEFAULT_POLICY = RetryPolicy()


async def send(
    settings: Settings,
    ledger: Ledger | MailLedger,
    transports,
    renderer: Renderer,
    now: datetime,
    *,
    emails: Iterable[str] | None = None,
    period: Callable[[Subscriber], str | None] | None = None,
    policy: RetryPolicy = _DEFAULT_POLICY,
    rng: random.Random | None = None,
    stop: asyncio.Event | None = None,
    compose: Collection[str] | None = None,
) -> SendReport:
    """Send each subscriber (of `emails`, if given) the email owed, over one or more transports.

    `ledger`: its deliveries and outbox; their calls run off the event loop, on the ledger's
    thread (a slow commit stalls no SMTP worker). `transports` is one transport or a sequence
    (one worker each; the caller closes them).
    `period(subscriber)` is stamped on a new email; no second email is made for the same
    (subscriber, period). Subscribers no longer in `settings` are left alone. Once `stop` is
    set, the emails in flight are finished and no other is started (a daemon's SIGTERM).
    New emails are composed only for the subscribers in `compose`, if given; for the others
    only emails already in the outbox are sent (a retry, a daemon that does not lead).
    """
    pool = list(transports) if isinstance(transports, Sequence) else [transports]
    known = {s.email.lower(): s for s in settings.subscribers}
    scope = set(known) if emails is None else {e.lower() for e in emails} & set(known)
    report = SendReport()
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    with ledger.database.worker() as run:
        # Addresses their recipients stopped (or their server refused): what was queued for them
        # is dropped, nothing is composed; a claim checks again (bot.ledger.recipients).
        scope -= await run(ledger.recipients.hold, scope, now)
        authors = scope if compose is None else scope & {e.lower() for e in compose}
        await fill(
            settings, ledger, run, renderer, now, known, authors, period, policy, report, stop
        )

        def halve(row: OutboxEmail, owner: str) -> Awaitable[int]:
            return split(settings, ledger, run, renderer, known, row, owner, clock())

        await _deliver(
            settings, ledger, run, pool, scope, clock, policy, rng or random.Random(), report,
            stop, halve,
        )  # fmt: skip
    return report


async def _deliver(
    settings: Settings,
    ledger: MailLedger,
    run: OffLoop,
    pool: list,
    scope: set[str],
    clock: Callable[[], datetime],
    policy: RetryPolicy,
    rng: random.Random,
    report: SendReport,
    stop: asyncio.Event | None,
    split: Callable[[OutboxEmail, str], Awaitable[int]],
) -> None:
    """Send due outbox rows over `pool`, retrying within the run what comes due soon enough.

    Each worker claims a few rows at a time (one commit) and sends them over its connection; an
    accepted email is marked sent at once (one commit), since the time between the server's 250
    and that commit is the only window in which a kill makes a duplicate.
    """
    outbox = ledger.outbox
    owner = new_owner()
    sender = parseaddr(settings.mail.from_addr)[1]
    lease = timedelta(seconds=policy.lease)
    deferred: dict[int, str] = {}  # row id -> line, for rows whose last attempt failed
    accepted: set[int] = set()  # sent, not yet committed
    failures = 0

    def halted() -> bool:
        return report.stopped is not None or (stop is not None and stop.is_set())

    async def commit_sent() -> None:
        if accepted:
            done = sorted(accepted)  # workers may add more while this commits
            await run(outbox.emails_sent, done, clock())
            accepted.difference_update(done)  # only once recorded: else tried again at the end

    def give_back(row: OutboxEmail, unsent: list[int]) -> None:
        outbox.email_deferred(row.id, owner, "interrupted", None)
        outbox.release(unsent, owner)

    async def worker(transport) -> None:
        nonlocal failures
        while not halted():
            claimed_at = clock()
            claimed = await run(outbox.claim_due, owner, claimed_at, lease, _CLAIM_BATCH, scope)
            batch = deque(claimed)
            if not batch:
                return
            while batch:
                if halted():
                    await run(outbox.release, [row.id for row in batch], owner)
                    return
                row = batch.popleft()
                # The lease was taken for the whole batch; on a slow server, renew it before each
                # send once half of it has gone, or another sender could take this row too.
                if clock() - claimed_at > lease / 2 and not await run(
                    outbox.renew, row.id, owner, clock() + lease
                ):
                    continue  # its lease ran out and another sender has it now
                try:
                    failed = await _attempt(transport, sender, row)
                except BaseException:
                    # Cancelled (shutdown) or a bug: this row and the unsent ones go back; the
                    # same bytes are sent again later (at-least-once, SPEC section 4).
                    log.warning("subscriber=%s interrupted=1 may_arrive_twice=1", row.email)
                    # One call: a second cancellation cannot split the two writes.
                    await run(give_back, row, [r.id for r in batch])
                    raise
                if failed is None:
                    failures = 0
                    accepted.add(row.id)
                    await commit_sent()
                    deferred.pop(row.id, None)
                    report.emails += 1
                    report.papers += row.papers
                    log.info(
                        "subscriber=%s sent papers=%d message_id=%s attempt=%d",
                        row.email,
                        row.papers,
                        row.message_id,
                        row.attempts,
                    )
                    continue
                if isinstance(failed, MessageTooBigError) and row.papers > 1:
                    made = await split(row, owner)
                    if made:  # the parts are due now: this or another worker claims them next
                        deferred.pop(row.id, None)
                        log.warning(
                            "subscriber=%s too_big=%r papers=%d split_into=%d",
                            row.email,
                            failed.reply,
                            row.papers,
                            made,
                        )
                        continue
                failures += 1
                if not isinstance(failed, PermanentSendError) and _too_old(row, clock(), policy):
                    failed = PermanentSendError(
                        str(failed),
                        f"not accepted for {policy.give_up_after / 86400:g} days: {failed}",
                    )
                if isinstance(failed, PermanentSendError):
                    await run(outbox.email_failed, row.id, failed.reply, clock())
                    if isinstance(failed, RecipientRefusedError):
                        await run(ledger.recipients.refused, row.email, failed.reply, clock())
                    deferred.pop(row.id, None)
                    report.failed.append(f"{row.email}: refused: {failed.reply}")
                    log.error("subscriber=%s refused=%r", row.email, failed.reply)
                else:
                    retry_at = clock() + timedelta(seconds=policy.delay(row.attempts, rng))
                    await run(outbox.email_deferred, row.id, owner, str(failed), retry_at)
                    deferred[row.id] = f"{row.email}: {failed}"
                    log.warning(
                        "subscriber=%s deferred=%r attempt=%d retry_at=%s",
                        row.email,
                        str(failed),
                        row.attempts,
                        retry_at.isoformat(timespec="seconds"),
                    )
                if failures >= policy.breaker and report.stopped is None:
                    report.stopped = f"{failures} failures in a row; the rest stays pending"
                    log.error("sending=stopped failures_in_a_row=%d last=%r", failures, str(failed))

    try:
        while not halted():
            await asyncio.gather(*(worker(t) for t in pool))
            await commit_sent()
            if halted():
                break
            retry_at = await run(outbox.next_attempt, scope)
            if retry_at is None:
                break
            wait = (retry_at - clock()).total_seconds()
            if wait > policy.linger:
                break
            await asyncio.sleep(max(wait, 0.0) + 0.001)
    finally:
        await commit_sent()  # whatever the server accepted is recorded, even when cancelled
    report.deferred.extend(deferred.values())


def _too_old(row: OutboxEmail, now: datetime, policy: RetryPolicy) -> bool:
    """True when a temporary failure of `row` is the last one allowed (SPEC section 4)."""
    made = row.created_at
    return made is not None and (now - made).total_seconds() >= policy.give_up_after


async def _attempt(transport, sender: str, row: OutboxEmail) -> SendError | None:
    """Send one claimed email; None when the server accepted it, else the SendError."""
    try:
        await transport.send(sender, row.email, row.data)
    except SendError as exc:
        return exc
    return None

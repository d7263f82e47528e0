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
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from bot.errors import MessageTooBigError, PermanentSendError, SendError
from bot.ledger.claims import new_owner
from bot.ledger.store import Store
from bot.mail.digest import Composed, compose, compose_for, compose_isolating, ranked
from bot.mail.render import Renderer
from bot.models import Settings, Subscriber

__all__ = ["SendReport", "RetryPolicy", "Composed", "send", "compose_for"]

log = logging.getLogger(__name__)

# Rows a worker claims per commit. Claimed rows a killed process never tried are reclaimed at once
# (their owner is gone), so a bigger batch costs nothing in safety, only fairness between processes.
_CLAIM_BATCH = 8


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Delays in seconds; the n-th retry waits base*2^(n-1) (at most cap) minus up
    to `jitter` of it, so many deferred emails do not all come back at the same instant."""

    base: float = 10.0
    cap: float = 6 * 3600.0
    jitter: float = 0.5
    # Retry within this run when the next attempt is due this soon (0: never wait in the run).
    # Short, so one greylisted recipient holds a run up by half a minute at most.
    linger: float = 30.0
    breaker: int = 3  # consecutive failures that end the run (server down, login refused)
    lease: float = 900.0  # a claimed email is ours this long (RFC 5321 DATA timeout is 600 s)
    quarantine_after: int = 3  # failed renders before a paper is quarantined (Mailman)
    # SPEC section 4: an email still failing temporarily this long after it was made is failed
    # with the last reply (Postfix's maximal_queue_lifetime, 5 days, does the same).
    give_up_after: float = 5 * 86400.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        full = min(self.cap, self.base * 2 ** max(attempts - 1, 0))
        return full * (1 - self.jitter * rng.random())


@dataclass(slots=True)
class SendReport:
    """A send run: emails sent, papers in them, and one line per problem left at the end."""

    emails: int = 0
    papers: int = 0
    deferred: list[str] = field(default_factory=list)  # still pending, will be retried
    failed: list[str] = field(default_factory=list)  # refused for good, or cannot be built
    quarantined: list[str] = field(default_factory=list)  # papers that can never be built
    stopped: str | None = None  # why the breaker ended the run


async def send(
    settings: Settings,
    store: Store,
    transports,
    renderer: Renderer,
    now: datetime,
    *,
    emails: Iterable[str] | None = None,
    period: Callable[[Subscriber], str | None] | None = None,
    policy: RetryPolicy = RetryPolicy(),
    rng: random.Random | None = None,
    stop: asyncio.Event | None = None,
    compose: Collection[str] | None = None,
) -> SendReport:
    """Send each subscriber (of `emails`, if given) the email owed, over one or more transports.

    `transports` is one transport or a sequence (one worker each; the caller closes them).
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

    authors = scope if compose is None else scope & {e.lower() for e in compose}
    await _fill(settings, store, renderer, now, known, authors, period, policy, report, stop)

    def split(row, owner: str) -> int:
        return _split(settings, store, renderer, known, row, owner, clock())

    await _deliver(
        settings, store, pool, scope, clock, policy, rng or random.Random(), report, stop, split
    )
    return report


def _split(
    settings: Settings,
    store: Store,
    renderer: Renderer,
    known: dict[str, Subscriber],
    row,
    owner: str,
    now: datetime,
) -> int:
    """Replace an email refused for its size by two, each with half of its papers (best first).

    SPEC section 4: a size refusal is not the papers' fault. The halves are tried like any email,
    so a half still too big is split again, down to one paper. Returns the number of emails made
    (0: not split, the email is failed as refused).
    """
    subscriber = known.get(row.email)
    papers = ranked(store.pending(row.email, outbox_id=row.id))
    if subscriber is None or len(papers) < 2:
        return 0
    middle = (len(papers) + 1) // 2
    try:
        parts = [
            compose(settings, subscriber, half, renderer, now)
            for half in (papers[:middle], papers[middle:])
        ]
    except Exception as exc:  # noqa: BLE001 (it was built once; if not now, fail it as refused)
        log.error("subscriber=%s split=failed error=%r", row.email, str(exc))
        return 0
    made = [(p.paper_ids, p.message_id, p.data) for p in parts if p is not None]
    return len(made) if store.split_email(row.id, owner, made) else 0


async def _fill(
    settings: Settings,
    store: Store,
    renderer: Renderer,
    now: datetime,
    known: dict[str, Subscriber],
    scope: set[str],
    period: Callable[[Subscriber], str | None] | None,
    policy: RetryPolicy,
    report: SendReport,
    stop: asyncio.Event | None = None,
) -> None:
    """Render one email into the outbox for each subscriber owed something and not waiting.

    Rendering is CPU work on the event loop: it yields between subscribers, so a signal is
    handled at once, and stops when `stop` is set (the rest is rendered by a later run).
    """
    waiting = store.open_emails()
    for email in store.emails_with_pending():
        await asyncio.sleep(0)
        if stop is not None and stop.is_set():
            return
        if email not in scope or email in waiting:
            continue
        subscriber = known[email]
        key = period(subscriber) if period is not None else None
        if key is not None and store.has_digest(email, key):
            continue
        pending = ranked(store.pending(email))
        made = compose_isolating(settings, subscriber, pending, renderer, now)
        if made.blocked is not None:
            # A template or code problem: no paper is to blame, so none is counted; all wait.
            log.error("subscriber=%s build=failed error=%r", email, made.blocked)
            report.failed.append(f"{email}: cannot build the email: {made.blocked}")
        for paper_id, error in made.bad:
            log.error("subscriber=%s paper=%s build_error=%r", email, paper_id, error)
            for gone in store.note_render_failure(
                email, [paper_id], error, now, policy.quarantine_after
            ):
                report.quarantined.append(f"{email}: paper {gone} quarantined: {error}")
            report.failed.append(f"{email}: cannot build the email with {paper_id}: {error}")
        if made.email is not None:
            composed = made.email
            store.add_email(email, composed.paper_ids, composed.message_id, composed.data, now, key)


async def _deliver(
    settings: Settings,
    store: Store,
    pool: list,
    scope: set[str],
    clock: Callable[[], datetime],
    policy: RetryPolicy,
    rng: random.Random,
    report: SendReport,
    stop: asyncio.Event | None = None,
    split: Callable[[object, str], int] = lambda row, owner: 0,
) -> None:
    """Send due outbox rows over `pool`, retrying within the run what comes due soon enough.

    Each worker claims a few rows at a time (one commit) and sends them over its connection; an
    accepted email is marked sent at once (one commit), since the time between the server's 250
    and that commit is the only window in which a kill makes a duplicate.
    """
    owner = new_owner()
    sender = parseaddr(settings.mail.from_addr)[1]
    lease = timedelta(seconds=policy.lease)
    deferred: dict[int, str] = {}  # row id -> line, for rows whose last attempt failed
    accepted: list[int] = []  # sent, not yet committed
    failures = 0

    def halted() -> bool:
        return report.stopped is not None or (stop is not None and stop.is_set())

    def commit_sent() -> None:
        if accepted:
            store.emails_sent(accepted, clock())
            accepted.clear()  # only once recorded: a failed commit is tried again at the end

    async def worker(transport) -> None:
        nonlocal failures
        while not halted():
            claimed_at = clock()
            batch = deque(store.claim_due(owner, claimed_at, lease, _CLAIM_BATCH, scope))
            if not batch:
                return
            while batch:
                if halted():
                    store.release([row.id for row in batch], owner)
                    return
                row = batch.popleft()
                # The lease was taken for the whole batch; on a slow server, renew it before each
                # send once half of it has gone, or another sender could take this row too.
                if clock() - claimed_at > lease / 2 and not store.renew(
                    row.id, owner, clock() + lease
                ):
                    continue  # its lease ran out and another sender has it now
                try:
                    failed = await _attempt(transport, sender, row)
                except BaseException:
                    # Cancelled (shutdown) or a bug: this row and the unsent ones go back; the
                    # same bytes are sent again later (at-least-once, SPEC section 4).
                    log.warning("subscriber=%s interrupted=1 may_arrive_twice=1", row.email)
                    store.email_deferred(row.id, owner, "interrupted", None)
                    store.release([r.id for r in batch], owner)
                    raise
                if failed is None:
                    failures = 0
                    accepted.append(row.id)
                    commit_sent()
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
                    made = split(row, owner)
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
                    store.email_failed(row.id, failed.reply, clock())
                    deferred.pop(row.id, None)
                    report.failed.append(f"{row.email}: refused: {failed.reply}")
                    log.error("subscriber=%s refused=%r", row.email, failed.reply)
                else:
                    retry_at = clock() + timedelta(seconds=policy.delay(row.attempts, rng))
                    store.email_deferred(row.id, owner, str(failed), retry_at)
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
            commit_sent()
            if halted():
                break
            retry_at = store.next_attempt(scope)
            if retry_at is None:
                break
            wait = (retry_at - clock()).total_seconds()
            if wait > policy.linger:
                break
            await asyncio.sleep(max(wait, 0.0) + 0.001)
    finally:
        commit_sent()  # whatever the server accepted is recorded, even when cancelled
    report.deferred.extend(deferred.values())


def _too_old(row, now: datetime, policy: RetryPolicy) -> bool:
    """True when a temporary failure of `row` is the last one allowed (SPEC section 4)."""
    made = row.created_at
    return made is not None and (now - made).total_seconds() >= policy.give_up_after


async def _attempt(transport, sender: str, row) -> SendError | None:
    """Send one claimed email; None when the server accepted it, else the SendError."""
    try:
        await transport.send(sender, row.email, row.data)
    except SendError as exc:
        return exc
    return None

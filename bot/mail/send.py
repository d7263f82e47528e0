"""Send what is owed: render each subscriber's email once into the outbox, and deliver the outbox.

Two parts per run, side by side. Fill (bot.mail.fill): each subscriber with deliveries owed and no
unfinished email gets one email (best first: max_items as cards, the rest listed one line each)
stored with its bytes and Message-ID (one commit). Deliver (bot.mail.deliver): `concurrency`
workers, one transport (connection) each, send the stored bytes of each due row as soon as it is
stored, so the connections are busy while the next emails render; sent/failed/deferred is one
commit per step (SPEC section 4, RELIABILITY finding 1). Temporary failures are retried with
exponential backoff and jitter, within the run when due soon enough, else in a later run; a
breaker ends the run after `breaker` consecutive failures, nothing lost.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr

from bot.ledger import Ledger, OutboxEmail
from bot.mail.deliver import Delivery
from bot.mail.digest import Composed, compose_for
from bot.mail.fill import MailLedger, fill, split
from bot.mail.render import Renderer
from bot.mail.retry import RetryPolicy, SendReport
from bot.models import Settings, Subscriber

__all__ = ["SendReport", "RetryPolicy", "Composed", "MailLedger", "send", "compose_for"]

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

        def halve(row: OutboxEmail, owner: str) -> Awaitable[int]:
            return split(settings, ledger, run, renderer, known, row, owner, clock())

        delivery = Delivery(
            ledger.outbox, ledger.recipients, run, pool, parseaddr(settings.mail.from_addr)[1],
            scope, clock, policy, rng or random.Random(), report, stop, halve,
        )  # fmt: skip
        filling = asyncio.ensure_future(
            fill(
                settings,
                ledger,
                run,
                renderer,
                now,
                known,
                authors,
                period,
                policy,
                report,
                stop,
                delivery.added,
            )  # fmt: skip
        )
        try:
            await delivery.deliver(filling)
        except BaseException:
            filling.cancel()
            await asyncio.gather(filling, return_exceptions=True)
            raise
        await filling  # what it raised, once the emails it stored are sent
    return report

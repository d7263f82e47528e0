"""Filling the outbox: each subscriber owed papers gets one email rendered once, stored with its
bytes and Message-ID (one commit); and an email refused for its size is split in two.

Ledger calls run off the event loop (`run`, see bot.ledger.handle.Database.worker); rendering is
CPU work on it, yielding between subscribers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from bot.ledger import Database, Deliveries, OffLoop, Outbox, OutboxEmail, Papers, Recipients
from bot.mail.digest import CORPUS_PAPERS, compose, compose_isolating, ranked
from bot.mail.render import Renderer
from bot.mail.retry import RetryPolicy, SendReport
from bot.models import Settings, Subscriber
from bot.query.rank import Corpus

__all__ = ["MailLedger", "fill", "split"]

log = logging.getLogger("bot.mail.send")  # one logger for a send run, whichever module logs


class MailLedger(Protocol):
    """What the sender uses of the ledger (bot.ledger.Ledger has it): deliveries and the outbox,
    the newest papers (word rarity for ranking, query.rank), and the database handle only for its
    worker thread (`Database.worker`); and the recipients' stops (nothing goes to a stopped
    address)."""

    @property
    def database(self) -> Database: ...

    @property
    def papers(self) -> Papers: ...

    @property
    def deliveries(self) -> Deliveries: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def recipients(self) -> Recipients: ...


async def fill(
    settings: Settings,
    ledger: MailLedger,
    run: OffLoop,
    renderer: Renderer,
    now: datetime,
    known: dict[str, Subscriber],
    scope: set[str],
    period: Callable[[Subscriber], str | None] | None,
    policy: RetryPolicy,
    report: SendReport,
    stop: asyncio.Event | None = None,
    added: Callable[[], None] | None = None,
) -> None:
    """Render one email into the outbox for each subscriber owed something and not waiting.

    Rendering is CPU work on the event loop: it yields between subscribers, so a signal is
    handled at once, and stops when `stop` is set (the rest is rendered by a later run).
    `added()` is called after each email is stored (the sender sends it while the next renders).
    """
    deliveries, outbox = ledger.deliveries, ledger.outbox
    waiting = await run(outbox.open_emails)
    corpus = None  # built on the first email to fill, once per run
    for email in await run(deliveries.emails_with_pending):
        await asyncio.sleep(0)
        if stop is not None and stop.is_set():
            return
        if email not in scope or email in waiting:
            continue
        subscriber = known[email]
        key = period(subscriber) if period is not None else None
        if key is not None and await run(outbox.has_digest, email, key):
            continue
        if corpus is None:
            corpus = await _corpus(ledger, run)
        pending = ranked(await run(deliveries.pending, email), corpus)
        made = compose_isolating(settings, subscriber, pending, renderer, now, corpus)
        if made.blocked is not None:
            # A template or code problem: no paper is to blame, so none is counted; all wait.
            log.error("subscriber=%s build=failed error=%r", email, made.blocked)
            report.failed.append(f"{email}: cannot build the email: {made.blocked}")
        for paper_id, error in made.bad:
            log.error("subscriber=%s paper=%s build_error=%r", email, paper_id, error)
            limit = policy.quarantine_after
            gone = await run(deliveries.note_render_failure, email, [paper_id], error, now, limit)
            report.quarantined += [f"{email}: paper {p} quarantined: {error}" for p in gone]
            report.failed.append(f"{email}: cannot build the email with {paper_id}: {error}")
        if made.email is not None:
            composed = made.email
            await run(
                outbox.add_email,
                email,
                composed.paper_ids,
                composed.message_id,
                composed.data,
                now,
                key,
            )
            if added is not None:
                added()


async def split(
    settings: Settings,
    ledger: MailLedger,
    run: OffLoop,
    renderer: Renderer,
    known: dict[str, Subscriber],
    row: OutboxEmail,
    owner: str,
    now: datetime,
) -> int:
    """Replace an email refused for its size by two, each with half of its papers (best first).

    SPEC section 4: a size refusal is not the papers' fault. The halves are tried like any email,
    so a half still too big is split again, down to one paper. Returns the number of emails made
    (0: not split, the email is failed as refused).
    """
    subscriber = known.get(row.email)
    corpus = await _corpus(ledger, run)
    papers = ranked(await run(ledger.deliveries.pending, row.email, None, row.id), corpus)
    if subscriber is None or len(papers) < 2:
        return 0
    middle = (len(papers) + 1) // 2
    try:
        parts = [
            compose(settings, subscriber, half, renderer, now, corpus)
            for half in (papers[:middle], papers[middle:])
        ]
    except Exception as exc:  # noqa: BLE001 (it was built once; if not now, fail it as refused)
        log.error("subscriber=%s split=failed error=%r", row.email, str(exc))
        return 0
    made = [(p.paper_ids, p.message_id, p.data) for p in parts if p is not None]
    return len(made) if await run(ledger.outbox.split_email, row.id, owner, made) else 0


async def _corpus(ledger: MailLedger, run: OffLoop) -> Corpus:
    """Word rarity for ranking (query.rank): the ledger's newest papers, read off the loop."""
    return Corpus(await run(ledger.papers.seen, None, CORPUS_PAPERS))

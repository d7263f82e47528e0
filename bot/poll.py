"""A poll, in order: fetch → parse → identify → record (diff) → match → queue deliveries.

Failure isolation lives here: one bad source or one bad subscriber is reported and the others go on.
Each source's fetch and parse: `bot.source_poll`; recording the papers, their deliveries and each
source's poll: `bot.recorder`. `now` comes from the caller; nothing below reads the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime

from bot.ledger import Papers
from bot.models import Settings
from bot.query.matcher import Matcher
from bot.recorder import Audience, PollReport, Recorder, record_all
from bot.source_poll import SourceOutcome, poll_source
from bot.sources.fetch import Fetcher

__all__ = ["SourceOutcome", "PollReport", "poll", "compile_matcher", "Audience"]

FETCH_CONCURRENCY = 4


def compile_matcher(settings: Settings) -> Matcher:
    """Every subscriber's queries, compiled once per settings load; by email, so that the
    deliveries come in the order of the ledger's key (deliveries.queue_deliveries)."""
    people = sorted(settings.subscribers, key=lambda s: s.email.lower())
    return Matcher({s.email: s.keywords for s in people})


async def poll(
    settings: Settings,
    ledger: Papers,
    now: datetime,
    *,
    matcher: Matcher | None = None,
    mark_seen: bool = False,
    fetcher: Fetcher | None = None,
    audience: Audience | None = None,
    clock: Callable[[], datetime] | None = None,
    on_source: Callable[[SourceOutcome], None] | None = None,
) -> PollReport:
    """Fetch every source, record the papers never seen, queue a delivery per (subscriber, match).

    Recording and queuing are one transaction (one per source when that one fails: Recorder);
    a source's validators (ETag, Last-Modified) are saved only after its papers are recorded, so a
    crash in between refetches instead of losing papers. A failed source is logged as a warning on
    each poll and as an error once (sources.health); a source whose server asked
    to retry later is not asked again before then. `fetcher` is the caller's (still open
    afterwards); by default one is opened and closed for this poll.

    SPEC section 4: settings that change mid-poll never lose a paper. With `audience` (a daemon),
    the subscribers are read when the papers are recorded, not when the poll began, and with
    `clock` the papers are recorded as first seen at that moment: a subscriber added while the
    sources were being fetched gets this poll's matches.

    `on_source(outcome)` is called as each source's fetch finishes (progress on a terminal).
    When the poll is cancelled (Ctrl-C), the sources that had finished are recorded before the
    cancellation goes on: their papers are not fetched in vain (issue 13).
    """
    matcher = matcher or compile_matcher(settings)
    ledger.ensure_subscribers((s.email for s in settings.subscribers), now)
    gate = asyncio.Semaphore(FETCH_CONCURRENCY)
    current = audience or (lambda: (settings.subscribers, matcher))
    record = Recorder(ledger, clock or (lambda: now), current, mark_seen)
    async with AsyncExitStack() as stack:
        if fetcher is None:
            fetcher = await stack.enter_async_context(Fetcher())
        tasks = [
            asyncio.ensure_future(poll_source(fetcher, gate, ledger, source, now))
            for source in settings.sources
        ]
        if on_source is not None:
            for task in tasks:
                task.add_done_callback(
                    lambda done: (
                        None
                        if done.cancelled() or done.exception()
                        else on_source(done.result().outcome)
                    )
                )
        try:
            results = await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            finished = [
                (source, task.result())
                for source, task in zip(settings.sources, tasks, strict=True)
                if task.done() and not task.cancelled() and task.exception() is None
            ]
            if finished:
                sources, results = zip(*finished, strict=True)
                record_all(ledger, list(sources), list(results), record, now)
            raise
    return record_all(ledger, list(settings.sources), results, record, now)

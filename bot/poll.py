"""A poll, in order: fetch → parse → identify → record (diff) → match → queue deliveries.

Failure isolation lives here: one bad source or one bad subscriber is reported and the others go on.
`now` comes from the caller; nothing below reads the clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot import identity, sources
from bot.errors import BotError, FetchError, ParseError
from bot.ledger import Papers, SourceState
from bot.links import scrub
from bot.models import Paper, Settings, Source, Subscriber
from bot.query.matcher import Matcher, matches
from bot.query.syntax import parse_query
from bot.sources import health
from bot.sources.cleaning import collapse
from bot.sources.fetch import Fetched, Fetcher, redact_url
from bot.sources.hf_daily import catch_up_urls
from bot.sources.listing import Listing

__all__ = ["SourceOutcome", "PollReport", "poll", "compile_matcher", "Audience"]

# The subscribers and their compiled queries as they are now (a daemon's settings change mid-poll).
Audience = Callable[[], tuple[Sequence[Subscriber], Matcher]]

log = logging.getLogger(__name__)

FETCH_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What one source gave in a poll; `error` is one line when it failed or was deferred."""

    name: str
    listed: int = 0
    unchanged: bool = False
    error: str | None = None
    deferred: bool = False  # not asked this poll: its server asked to retry later
    skipped: str = ""  # entries the parser left out, and why ("1 entry skipped: …"); "" if none
    alert: str | None = None  # failing for long, or empty when it never is: said once (health)
    excluded: int = 0  # items the source's `exclude` query dropped


@dataclass(slots=True)
class PollReport:
    """A poll: per-source outcomes, the papers recorded as new, and the deliveries queued."""

    sources: list[SourceOutcome] = field(default_factory=list)
    new: list[Paper] = field(default_factory=list)
    queued: int = 0

    @property
    def failed(self) -> list[SourceOutcome]:
        """Sources that failed this poll; one left alone until its Retry-After did not."""
        return [s for s in self.sources if s.error and not s.deferred]


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

    Recording and queuing are one transaction (one per source when that one fails: _Recorder);
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
    record = _Recorder(ledger, clock or (lambda: now), current, mark_seen)
    async with AsyncExitStack() as stack:
        if fetcher is None:
            fetcher = await stack.enter_async_context(Fetcher())
        tasks = [
            asyncio.ensure_future(_poll_source(fetcher, gate, ledger, source, now))
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
                _record_all(ledger, list(sources), list(results), record, now)
            raise
    return _record_all(ledger, list(settings.sources), results, record, now)


def _record_all(
    ledger: Papers,
    sources: list[Source],
    results: list[_Polled],
    record: _Recorder,
    now: datetime,
) -> PollReport:
    """Record the papers of these sources' results (one transaction), then each source's poll."""
    listed = [paper for result in results for paper in result.papers]
    report = PollReport()
    try:
        report.new = record(identity.merge(listed))
    except Exception as exc:  # noqa: BLE001 - a value the ledger refused: find whose, spare the rest
        # (PostgreSQL's refusals, such as an index entry over 2,704 bytes, come as StoreError
        # too; a ledger that is down fails again at save_poll below, and that stops the poll.)
        reason = collapse(f"{type(exc).__name__}: {exc}")[:300]
        log.warning("recording the poll failed (%s); recording each source on its own", reason)
        results = [_record_alone(record, result) for result in results]
        report.new = record.new
    report.queued = record.queued
    for source, result in zip(sources, results, strict=True):
        report.sources.append(_save_and_alert(ledger, source, result, now))
    names = [source.name for source in sources]
    log.info(
        # The daemon polls one source at a time: its line names it (issue 13).
        "poll %s=%s listed=%d new=%d queued=%d",
        "source" if len(names) == 1 else "sources",
        ",".join(names),
        len(listed),
        len(report.new),
        report.queued,
    )
    return report


class _Recorder:
    """Records papers and queues their deliveries, one transaction per call, counting both.

    The whole poll is normally one call, so a paper listed by two sources is new once with both
    sources (a subscriber's `sources` can admit either). Only when that transaction fails is
    each source recorded in its own, so that one source's bad data never stops the others
    (issue 11 item 4).
    """

    def __init__(
        self,
        ledger: Papers,
        clock: Callable[[], datetime],
        audience: Audience,
        mark_seen: bool,
    ):
        self.ledger, self.clock, self.audience = ledger, clock, audience
        self.mark_seen = mark_seen
        self.new: list[Paper] = []
        self.queued = 0

    def __call__(self, papers: list[Paper]) -> list[Paper]:
        """Record `papers` in one transaction; the new ones. Counts only what was committed.

        The subscribers are read inside the transaction, the papers first seen at that moment
        (SPEC section 4: a subscriber added mid-poll gets this poll's papers).
        """
        queued = 0

        def queue(new: list[Paper]) -> Iterator[tuple[str, str, tuple[str, ...]]]:
            nonlocal queued
            people, compiled = self.audience()
            for delivery in _deliveries(compiled, people, new):
                queued += 1
                yield delivery

        new = self.ledger.record(papers, self.clock(), queue=None if self.mark_seen else queue)
        self.new.extend(new)
        self.queued += queued
        return new


def _record_alone(record: _Recorder, result: _Polled) -> _Polled:
    """The source's result after recording its papers in a transaction of their own; a failure
    becomes the source's error, its validators unsaved, so its papers are asked for again."""
    if not result.papers:
        return result
    try:
        record(identity.merge(result.papers))
    except Exception as exc:  # noqa: BLE001 - this source's data, whatever the ledger said
        if not isinstance(exc, BotError):  # StoreError says it all in one line, logged below
            log.exception("source=%s cannot record its papers", result.outcome.name)
        reason = collapse(f"{type(exc).__name__}: {exc}")[:300]
        error = f"the ledger refused this source's papers ({reason}); a bug: please report it"
        return replace(result, papers=[], outcome=SourceOutcome(result.outcome.name, error=error))
    return result


@dataclass(frozen=True, slots=True)
class _Polled:
    """One source's share of a poll: papers, outcome, state before, listing size, validators."""

    papers: list[Paper]
    outcome: SourceOutcome
    before: SourceState | None
    count: int = 0
    validators: dict[str, str | None] = field(default_factory=dict)


async def _poll_source(
    fetcher: Fetcher, gate: asyncio.Semaphore, ledger: Papers, source: Source, now: datetime
) -> _Polled:
    """One source's papers (tagged with its name), its outcome and its new validators.

    An hf-daily API source that last succeeded before today also fetches the `?date=` list of each
    day since (hf_daily.catch_up_urls), so papers listed while the bot was down are not lost.
    """
    before = ledger.source_state(source.name)
    wait = health.retry_wait(before, now)
    if wait is not None:
        message = f"not polled: the server asked to wait, {wait} s left ({before.last_error})"
        return _Polled([], SourceOutcome(source.name, error=message, deferred=True), before)
    try:
        async with gate:
            fetched = await fetcher.fetch(
                source.url,
                etag=before.etag if before else None,
                last_modified=before.last_modified if before else None,
            )
        extra: list[Fetched] = []
        if source.type == "hf-daily":
            for url in catch_up_urls(source.url, before.last_success if before else None, now):
                async with gate:
                    extra.append(await fetcher.fetch(url))
        main = _parse(source, fetched)
        days = [_parse(source, got) for got in extra]
        caught_up = [paper for day in days for paper in day]
    except (FetchError, ParseError) as exc:
        return _Polled([], SourceOutcome(source.name, error=str(exc)), before)
    except Exception as exc:  # noqa: BLE001 (a bug met by one source must not stop the others)
        log.exception("source=%s unexpected error", source.name)
        error = f"unexpected {type(exc).__name__}: {exc} (a bug: please report it)"
        return _Polled([], SourceOutcome(source.name, error=error), before)
    papers = [p for p in (_tag(paper, source) for paper in main + caught_up) if not p.revision]
    kept = _without_excluded(source, papers)
    excluded, papers = len(papers) - len(kept), kept
    if fetched.body is None:
        validators = {"etag": before.etag, "last_modified": before.last_modified} if before else {}
        count = before.last_count if before else 0
    else:
        validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
        count = len(main)  # the listing's own size, revisions included, catch-up days not
    unchanged = fetched.body is None and not papers
    skipped = Listing(skipped=_total_skipped([main, *days])).describe_skipped()
    outcome = SourceOutcome(source.name, len(papers), unchanged, skipped=skipped, excluded=excluded)
    return _Polled(papers, outcome, before, count, validators)


def _without_excluded(source: Source, papers: list[Paper]) -> list[Paper]:
    """The papers `source.exclude` does not match (SPEC section 2: an "Author Correction" or an
    editorial listed by a journal feed is not recorded as this source's paper)."""
    if not source.exclude:
        return papers
    query = parse_query(source.exclude)
    return [paper for paper in papers if not matches(query, paper)]


def _total_skipped(listings: list[Listing]) -> dict[str, int]:
    total: dict[str, int] = {}
    for listing in listings:
        for reason, count in listing.skipped.items():
            total[reason] = total.get(reason, 0) + count
    return total


def _parse(source: Source, fetched: Fetched) -> Listing:
    """The papers of one fetched body of `source` (with what it left out); empty for a 304."""
    if fetched.body is None:
        return Listing()
    return sources.parse(
        source.type, fetched.body, content_type=fetched.content_type, url=source.url
    )


def _save_and_alert(
    ledger: Papers, source: Source, result: _Polled, now: datetime
) -> SourceOutcome:
    """Record the source's poll (a deferred source is not touched) and log what deserves it.

    Returns the outcome with the health alert, if this poll raised one.
    """
    outcome = result.outcome
    where = redact_url(source.url)
    if outcome.deferred:
        log.warning("source=%s url=%s %s", source.name, where, outcome.error)
        return outcome
    if outcome.error:
        log.warning("source=%s url=%s error=%r", source.name, where, outcome.error)
        alert = health.failure_alert(result.before, now, outcome.error)
        ledger.save_poll(source.name, now, error=outcome.error)
    else:
        if outcome.skipped:  # an entry left out is said out loud, never dropped in silence
            log.warning("source=%s url=%s %s", source.name, where, outcome.skipped)
        alert = None if outcome.unchanged else health.empty_alert(result.before, now, result.count)
        ledger.save_poll(source.name, now, count=result.count, **result.validators)
    if alert:
        log.error("source=%s url=%s %s", source.name, where, alert)
    return replace(outcome, alert=alert)


def _tag(paper: Paper, source: Source) -> Paper:
    """The paper as listed by `source`: its name recorded, its link cleaned (SPEC section 3: never
    the listing's own URL, never its credentials or query token).

    A revision admitted by `include_revisions` counts as a paper like any other.
    """
    return replace(
        paper,
        sources=(source.name,),
        url=scrub(paper.url, (source.url,)) or "",
        revision=paper.revision and not source.include_revisions,
    )


def _deliveries(
    matcher: Matcher, subscribers: Sequence[Subscriber], new: Sequence[Paper]
) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(email, paper id, queries) for each new paper a subscriber's queries and sources admit,
    made as the ledger reads them (Matcher.pairs)."""
    admits = {s.email: set(s.sources) for s in subscribers if s.sources is not None}
    listed_by = {p.id: set(p.sources) for p in new} if admits else {}
    for email, paper_id, queries in matcher.pairs(new):
        admitted = admits.get(email)
        if admitted is None or admitted & listed_by[paper_id]:
            yield email, paper_id, queries

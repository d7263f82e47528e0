"""A poll, in order: fetch → parse → identify → record (diff) → match → queue deliveries.

Failure isolation lives here: one bad source or one bad subscriber is reported and the others go on.
`now` comes from the caller; nothing below reads the clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot import identity, sources
from bot.errors import FetchError, ParseError
from bot.fetch import Fetcher, redact_url
from bot.match import Matcher
from bot.models import Paper, Settings, Source, Subscriber
from bot.store import Store

__all__ = ["SourceOutcome", "PollReport", "poll", "compile_matcher"]

log = logging.getLogger(__name__)

FETCH_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What one source gave in a poll; `error` is one line when it failed."""

    name: str
    listed: int = 0
    unchanged: bool = False
    error: str | None = None


@dataclass(slots=True)
class PollReport:
    """A poll: per-source outcomes, the papers recorded as new, and the deliveries queued."""

    sources: list[SourceOutcome] = field(default_factory=list)
    new: list[Paper] = field(default_factory=list)
    queued: int = 0

    @property
    def failed(self) -> list[SourceOutcome]:
        return [s for s in self.sources if s.error]


def compile_matcher(settings: Settings) -> Matcher:
    """Every subscriber's queries, compiled once per settings load."""
    return Matcher({s.email: s.keywords for s in settings.subscribers})


async def poll(
    settings: Settings,
    store: Store,
    now: datetime,
    *,
    matcher: Matcher | None = None,
    mark_seen: bool = False,
) -> PollReport:
    """Fetch every source, record the papers never seen, queue a delivery per (subscriber, match).

    Recording and queuing are one transaction; a source's validators (ETag, Last-Modified) are saved
    only after its papers are recorded, so a crash in between refetches instead of losing papers.
    """
    matcher = matcher or compile_matcher(settings)
    store.ensure_subscribers((s.email for s in settings.subscribers), now)
    gate = asyncio.Semaphore(FETCH_CONCURRENCY)
    async with Fetcher() as fetcher:
        results = await asyncio.gather(
            *(_poll_source(fetcher, gate, store, source) for source in settings.sources)
        )
    listed = [paper for papers, _, _ in results for paper in papers]
    merged = identity.merge(listed)
    queued: list[tuple[str, str, tuple[str, ...]]] = []

    def queue(new: list[Paper]) -> list[tuple[str, str, tuple[str, ...]]]:
        queued.extend(_deliveries(matcher, settings.subscribers, new))
        return queued

    report = PollReport()
    report.new = store.record(merged, now, queue=None if mark_seen else queue)
    report.queued = len(queued)
    for source, (papers, outcome, validators) in zip(settings.sources, results, strict=True):
        report.sources.append(outcome)
        if outcome.error:
            log.error(
                "source=%s url=%s error=%r", source.name, redact_url(source.url), outcome.error
            )
            store.save_poll(source.name, now, error=outcome.error)
        else:
            store.save_poll(source.name, now, count=len(papers), **validators)
    log.info(
        "poll sources=%d listed=%d new=%d queued=%d",
        len(results),
        len(listed),
        len(report.new),
        report.queued,
    )
    return report


async def _poll_source(
    fetcher: Fetcher, gate: asyncio.Semaphore, store: Store, source: Source
) -> tuple[list[Paper], SourceOutcome, dict[str, str | None]]:
    """One source's papers (tagged with its name), its outcome and its new validators."""
    state = store.source_state(source.name)
    try:
        async with gate:
            fetched = await fetcher.fetch(
                source.url,
                etag=state.etag if state else None,
                last_modified=state.last_modified if state else None,
            )
        if fetched.body is None:
            validators = {"etag": state.etag, "last_modified": state.last_modified} if state else {}
            return [], SourceOutcome(source.name, unchanged=True), validators
        parsed = sources.parse(
            source.type, fetched.body, content_type=fetched.content_type, url=source.url
        )
    except (FetchError, ParseError) as exc:
        return [], SourceOutcome(source.name, error=str(exc)), {}
    papers = [_tag(paper, source) for paper in parsed]
    papers = [p for p in papers if not p.revision]
    validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
    return papers, SourceOutcome(source.name, listed=len(papers)), validators


def _tag(paper: Paper, source: Source) -> Paper:
    """The paper as listed by `source`: its name recorded, the listing as the link of last resort.

    A revision admitted by `include_revisions` counts as a paper like any other.
    """
    return replace(
        paper,
        sources=(source.name,),
        url=paper.url or source.url,
        revision=paper.revision and not source.include_revisions,
    )


def _deliveries(
    matcher: Matcher, subscribers: Sequence[Subscriber], new: Sequence[Paper]
) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(email, paper id, queries) for each new paper a subscriber's queries and sources admit."""
    by_email = {s.email: s for s in subscribers}
    by_id = {p.id: p for p in new}
    for paper_id, owners in matcher.match(new).items():
        paper = by_id[paper_id]
        for email, queries in owners.items():
            admitted = by_email[email].sources
            if admitted is None or set(admitted) & set(paper.sources):
                yield email, paper_id, queries

"""Recording a poll: its papers and their deliveries in one transaction, then each source's poll
state and health alert.

Only when that transaction fails is each source recorded on its own, so that one source's bad data
never stops the others (issue 11 item 4). The deliveries are matched as the ledger writes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot import identity
from bot.errors import BotError
from bot.ledger import Papers
from bot.models import Paper, Source, Subscriber
from bot.query.matcher import Matcher
from bot.source_poll import Polled, SourceOutcome
from bot.sources import health
from bot.sources.cleaning import collapse
from bot.sources.fetch import redact_url

__all__ = ["PollReport", "Recorder", "Audience", "record_all"]

# The subscribers and their compiled queries as they are now (a daemon's settings change mid-poll).
Audience = Callable[[], tuple[Sequence[Subscriber], Matcher]]

log = logging.getLogger("bot.poll")  # the poll's log lines keep the poll's logger name


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


def record_all(
    ledger: Papers,
    sources: list[Source],
    results: list[Polled],
    record: Recorder,
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


class Recorder:
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


def _record_alone(record: Recorder, result: Polled) -> Polled:
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


def _save_and_alert(ledger: Papers, source: Source, result: Polled, now: datetime) -> SourceOutcome:
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

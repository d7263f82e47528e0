"""One cycle, in order: fetch → parse → identify → record (diff) → match → render → send.

Failure isolation lives here: one bad source or one bad subscriber is reported and the others go on.
`now` comes from the caller; nothing below reads the clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import parseaddr
from urllib.parse import quote

import jinja2

from bot import identity, message, sources
from bot.errors import BotError, FetchError, ParseError, PermanentSendError, TemporarySendError
from bot.fetch import Fetcher, redact_url
from bot.match import Matcher, highlight, rank_key
from bot.models import Paper, Settings, Source, Subscriber
from bot.render import Digest, DigestItem, Renderer, subject
from bot.store import Store

__all__ = [
    "SourceOutcome",
    "PollReport",
    "SendReport",
    "Composed",
    "poll",
    "send",
    "compose_for",
    "compile_matcher",
]

log = logging.getLogger(__name__)

FETCH_CONCURRENCY = 4
# Stop a send run after this many temporary failures in a row: the server is down or refusing us,
# and every further attempt would only wait for the same timeout. Nothing is lost: rows stay
# pending.
BREAKER_THRESHOLD = 3


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


@dataclass(slots=True)
class SendReport:
    """A send run: emails sent, papers in them, temporary and permanent failures (one line each)."""

    emails: int = 0
    papers: int = 0
    deferred: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped: str | None = None


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


async def send(
    settings: Settings, store: Store, transport, renderer: Renderer, now: datetime
) -> SendReport:
    """Send each subscriber one email holding its pending deliveries (best first, max_items).

    Deliveries become sent only after the server accepted the message (or the Maildir file was
    written); a temporary failure leaves them pending, a permanent one marks them failed.
    """
    report = SendReport()
    by_email = {s.email.lower(): s for s in settings.subscribers}
    sender = parseaddr(settings.mail.from_addr)[1]
    in_a_row = 0
    for email in store.emails_with_pending():
        subscriber = by_email.get(email.lower())
        if subscriber is None:  # removed from the settings: keep its rows, send nothing
            continue
        try:
            composed = compose_for(settings, store, subscriber, renderer, now)
        except (BotError, jinja2.TemplateError, ValueError) as exc:
            line = f"{subscriber.email}: cannot build the email: {exc}"
            log.error("subscriber=%s error=%r", subscriber.email, str(exc))
            report.failed.append(line)
            continue
        if composed is None:
            continue
        paper_ids = composed.paper_ids
        try:
            await transport.send(sender, subscriber.email, composed.data)
        except TemporarySendError as exc:
            in_a_row += 1
            report.deferred.append(f"{subscriber.email}: {exc}")
            log.warning("subscriber=%s deferred=%r", subscriber.email, str(exc))
            if in_a_row >= BREAKER_THRESHOLD:
                report.stopped = f"{in_a_row} temporary failures in a row; the rest stays pending"
                break
            continue
        except PermanentSendError as exc:
            in_a_row = 0
            store.mark_failed(subscriber.email, paper_ids, exc.reply, now)
            report.failed.append(f"{subscriber.email}: refused: {exc.reply}")
            log.error("subscriber=%s refused=%r", subscriber.email, exc.reply)
            continue
        in_a_row = 0
        store.mark_sent(subscriber.email, paper_ids, composed.message_id, now)
        report.emails += 1
        report.papers += len(paper_ids)
        log.info(
            "subscriber=%s sent papers=%d message_id=%s",
            subscriber.email,
            len(paper_ids),
            composed.message_id,
        )
    return report


@dataclass(frozen=True, slots=True)
class Composed:
    """A subscriber's next email: its bytes, its two bodies, the papers in it and its Message-ID."""

    data: bytes
    text: str
    html: str
    paper_ids: list[str]
    message_id: str


def compose_for(
    settings: Settings, store: Store, subscriber: Subscriber, renderer: Renderer, now: datetime
) -> Composed | None:
    """The subscriber's next digest: pending deliveries best first, at most max_items; or None.

    Reads the store, changes nothing.
    """
    pending = sorted(store.pending(subscriber.email), key=lambda d: rank_key(d.paper, d.queries))
    batch = pending[: settings.max_items]
    if not batch:
        return None
    items = []
    for delivery in batch:
        marks = highlight(delivery.paper, delivery.queries)
        items.append(DigestItem(delivery.paper, delivery.queries, marks.title, marks.abstract))
    unsubscribe = _unsubscribe_url(settings.mail.unsubscribe, subscriber.email)
    digest = Digest(subscriber, tuple(items), len(pending) - len(batch), now, unsubscribe)
    text, html = renderer.render(digest)
    paper_ids = [item.paper.id for item in items]
    domain = parseaddr(settings.mail.from_addr)[1].rpartition("@")[2] or "localhost"
    message_id = message.message_id(subscriber.email, paper_ids, domain)
    data = message.build_message(
        from_addr=settings.mail.from_addr,
        to_addr=subscriber.email,
        to_name=subscriber.name,
        subject=subject(items, subscriber),
        text=text,
        html=html,
        message_id=message_id,
        date=now,
        list_id=f"Paper digest <digest.{domain}>",
        unsubscribe=unsubscribe,
    )
    return Composed(data, text, html, paper_ids, message_id)


def _unsubscribe_url(template: str | None, email: str) -> str | None:
    """The unsubscribe URL for one subscriber; `{email}` in the template is replaced, URL-quoted."""
    if not template:
        return None
    return template.replace("{email}", quote(email, safe="@"))

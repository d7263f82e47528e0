"""One source's share of a poll: fetch (with an hf-daily source's catch-up days), parse, tag each
paper with the source, drop what its `exclude` query matches; what it gave, as a `SourceOutcome`.

A failing source becomes its outcome's one-line error: it never stops the other sources.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot import sources
from bot.errors import FetchError, ParseError
from bot.ledger import Papers, SourceState
from bot.links import scrub
from bot.models import Paper, Source
from bot.query.matcher import matches
from bot.query.syntax import parse_query
from bot.sources import health
from bot.sources.fetch import Fetched, Fetcher
from bot.sources.hf_daily import catch_up_urls
from bot.sources.listing import Listing

__all__ = ["SourceOutcome", "Polled", "poll_source"]

log = logging.getLogger("bot.poll")  # the poll's log lines keep the poll's logger name


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


@dataclass(frozen=True, slots=True)
class Polled:
    """One source's share of a poll: papers, outcome, state before, listing size, validators."""

    papers: list[Paper]
    outcome: SourceOutcome
    before: SourceState | None
    count: int = 0
    validators: dict[str, str | None] = field(default_factory=dict)


async def poll_source(
    fetcher: Fetcher, gate: asyncio.Semaphore, ledger: Papers, source: Source, now: datetime
) -> Polled:
    """One source's papers (tagged with its name), its outcome and its new validators.

    An hf-daily API source that last succeeded before today also fetches the `?date=` list of each
    day since (hf_daily.catch_up_urls), so papers listed while the bot was down are not lost.
    """
    before = ledger.source_state(source.name)
    wait = health.retry_wait(before, now)
    if wait is not None:
        message = f"not polled: the server asked to wait, {wait} s left ({before.last_error})"
        return Polled([], SourceOutcome(source.name, error=message, deferred=True), before)
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
        return Polled([], SourceOutcome(source.name, error=str(exc)), before)
    except Exception as exc:  # noqa: BLE001 (a bug met by one source must not stop the others)
        log.exception("source=%s unexpected error", source.name)
        error = f"unexpected {type(exc).__name__}: {exc} (a bug: please report it)"
        return Polled([], SourceOutcome(source.name, error=error), before)
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
    return Polled(papers, outcome, before, count, validators)


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

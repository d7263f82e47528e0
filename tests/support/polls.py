"""Polling against loopback servers: the arXiv sample everyone polls, one poll run to its end."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from bot.ledger import Ledger
from bot.models import Settings, Source, Subscriber
from bot.poll import PollReport, poll
from bot.sources.fetch import Fetcher
from support.servers import Reply, http_site, ok

FIXTURES = Path(__file__).parent.parent / "fixtures"
MONDAY = datetime(2026, 4, 27, 12, 0, tzinfo=UTC)
ALICE = Subscriber(email="alice@example.org", keywords=("math OR agent OR security",))
ARXIV_AI = (FIXTURES / "arxiv" / "rss_cs.AI_2026-04-27_first3.xml").read_bytes()
ARXIV_IDS = ["2604.21935", "2604.21936", "2604.21937"]


def run_poll(
    store: Ledger,
    sources: list[Source],
    now: datetime,
    *,
    subscribers: tuple[Subscriber, ...] = (ALICE,),
    **fetcher_options,
) -> PollReport:
    settings = Settings(path=Path("settings.toml"), sources=tuple(sources), subscribers=subscribers)

    async def go() -> PollReport:
        async with Fetcher(politeness=0, **fetcher_options) as fetcher:
            return await poll(settings, store.papers, now, fetcher=fetcher)

    return asyncio.run(go())


def feed(name: str, url: str, **options) -> Source:
    return Source(name=name, type="feed", url=url, **options)


def errors(report: PollReport) -> dict[str, str | None]:
    return {outcome.name: outcome.error for outcome in report.sources}


def poll_bomb_and_good(store: Ledger, bomb: Reply) -> tuple[PollReport, float, int]:
    """A poll of a source served `bomb` and of a good one: the report, seconds, peak bytes."""
    with http_site() as site:
        url = site.put("/rss", bomb)
        good = site.put("/good", ok(ARXIV_AI))
        tracemalloc.start()
        started = time.monotonic()
        try:
            report = run_poll(store, [feed("bomb", url), feed("good", good)], MONDAY)
            return report, time.monotonic() - started, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

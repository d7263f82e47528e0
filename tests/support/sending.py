"""Sending against a loopback SMTP server: six people, papers owed to them, one send run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import identity
from bot.ledger import Ledger
from bot.mail.send import RetryPolicy, send
from bot.mail.transports import make_transport
from bot.models import MailSettings, Paper, Settings, Subscriber

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
FAST = RetryPolicy(base=0.05, cap=0.2, jitter=0.5, linger=3.0, breaker=3)
PEOPLE = [f"p{i}@example.org" for i in range(6)]


def settings_for(port: int, people=PEOPLE, **mail) -> Settings:
    values = {"transport": "smtp", "host": "127.0.0.1", "port": port, "security": "none"}
    return Settings(
        path=Path("settings.toml"),
        max_items=mail.pop("max_items", 50),
        mail=MailSettings(**{**values, "timeout": 2.0, **mail}),
        subscribers=tuple(Subscriber(email, keywords=("paper",)) for email in people),
    )


def owe(store: Ledger, people=PEOPLE, each: int = 1, start: int = 0, now=T0) -> None:
    """Queue `each` new papers for every person (their own papers)."""
    store.papers.ensure_subscribers(people, T0 - timedelta(days=1))
    papers, plan = [], []
    for k, email in enumerate(people):
        for j in range(each):
            n = start + k * each + j
            paper = identity.identify(
                Paper(
                    title=f"Paper number {n}",
                    url=f"https://arxiv.org/abs/2511.{n:05d}v1",
                    abstract="An abstract about a paper.",
                    sources=("arxiv",),
                )
            )
            papers.append(paper)
            plan.append((email, paper.id, ("paper",)))
    store.papers.record(papers, now, lambda new: plan)


async def send_once(settings, store, renderer, now=T0, policy=FAST):
    """One send run over one fresh connection, closed afterwards (inside a running loop)."""
    transport = make_transport(settings.mail, {})
    try:
        return await send(settings, store, [transport], renderer, now, policy=policy)
    finally:
        await transport.close()


def run(settings, store, renderer, now=T0, transports=None, **kwargs):
    pool = transports or [make_transport(settings.mail, {})]

    async def go():
        try:
            return await send(settings, store, pool, renderer, now, policy=FAST, **kwargs)
        finally:
            for transport in pool:
                await transport.close()

    return asyncio.run(go())


def states(store: Ledger) -> dict[str, dict[str, int]]:
    return {e: {k: v for k, v in c.items() if v} for e, c in store.status().deliveries.items()}

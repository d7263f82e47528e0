"""`bot check --connect`: try the mail server and fetch every source, changing nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from bot import sources
from bot.errors import BotError
from bot.mail.transports import make_transport
from bot.models import Settings
from bot.sources.fetch import Fetcher

__all__ = ["check_connections"]


async def check_connections(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """One line per problem: a source that cannot be fetched or parsed, a mail server that fails."""
    problems: list[str] = []
    async with Fetcher() as fetcher:

        async def one(source) -> None:
            try:
                fetched = await fetcher.fetch(source.url)
                if fetched.body is not None:
                    sources.parse(
                        source.type, fetched.body, content_type=fetched.content_type, url=source.url
                    )
            except BotError as exc:
                problems.append(f"source {source.name!r}: {exc}")

        await asyncio.gather(*(one(s) for s in settings.sources))
    try:
        transport = make_transport(settings.mail, environ)
        try:
            await transport.probe()
        finally:
            await transport.close()
    except BotError as exc:
        problems.append(f"mail: {exc}")
    return problems

"""Handing finished messages to the world: an SMTP relay (bot.mail.smtp, the only such code) or a
Maildir folder (bot.mail.maildir); `make_transport` picks one, `open_transports` opens and closes
the sending workers' transports.

Both transports answer `send` with None when the message is safely handed over (the Maildir file is
in new/ and fsynced, or the server said 250), TemporarySendError when trying again later may work,
and PermanentSendError when this message to this recipient will never be accepted (SPEC section 4).
`send(..., ready=)` awaits `ready` just before the message's content goes out: the sender records
the previous email as sent meanwhile, off the connection's path, yet before this one can be
accepted (so a kill still repeats at most one email per connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Protocol

from bot.errors import ConfigError
from bot.mail.maildir import MaildirTransport
from bot.mail.smtp import SmtpTransport, default_port
from bot.models import MailSettings

__all__ = [
    "Transport",
    "MaildirTransport",
    "SmtpTransport",
    "make_transport",
    "make_transports",
    "open_transports",
    "default_port",
]


class Transport(Protocol):
    """What the sender needs from a transport."""

    async def send(
        self, sender: str, recipient: str, data: bytes, ready: Awaitable[object] | None = None
    ) -> None: ...

    async def probe(self) -> None: ...

    async def close(self) -> None: ...


def make_transport(
    mail: MailSettings, environ: Mapping[str, str]
) -> MaildirTransport | SmtpTransport:
    """The transport `mail` asks for; the SMTP password comes from environ[mail.password_env].

    Raises ConfigError when the variable is missing, or when a password would travel in clear to a
    host that is not loopback (security = "none").
    """
    if mail.transport == "maildir":
        return MaildirTransport(mail.maildir)
    if mail.transport != "smtp":
        raise ConfigError(f'mail.transport = "{mail.transport}" is not one of "maildir", "smtp"')
    password = None
    if mail.password_env:
        if mail.password_env not in environ:
            raise ConfigError(
                f"mail.password_env names the environment variable {mail.password_env}, "
                f"which is not set: export {mail.password_env}=… before starting bot"
            )
        password = environ[mail.password_env]
    if mail.username and mail.security == "none" and not _is_loopback(mail.host):
        raise ConfigError(
            f'mail.security = "none" would send the SMTP password in clear to {mail.host}: '
            'use security = "starttls" or "tls"'
        )
    return SmtpTransport(mail, password)


def make_transports(
    mail: MailSettings, environ: Mapping[str, str]
) -> list[MaildirTransport | SmtpTransport]:
    """One transport per sending worker: `mail.concurrency` SMTP connections, or one Maildir."""
    count = max(mail.concurrency, 1) if mail.transport == "smtp" else 1
    return [make_transport(mail, environ) for _ in range(count)]


@contextlib.asynccontextmanager
async def open_transports(
    mail: MailSettings, environ: Mapping[str, str]
) -> AsyncIterator[list[MaildirTransport | SmtpTransport]]:
    """`make_transports`, every one closed (concurrently) when the block ends, however it ends."""
    transports = make_transports(mail, environ)
    try:
        yield transports
    finally:
        await asyncio.gather(*(t.close() for t in transports))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

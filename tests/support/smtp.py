"""A real SMTP server (aiosmtpd) on loopback with one handler for every test: it records what
it queues and plays scripted faults (refusals, a hang-up before the reply, a slow reply)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from support.mailbox import parse

_MESSAGE_ID = re.compile(rb"^Message-ID: *(\S+)", re.M | re.I)


def free_port() -> int:
    """A loopback port nobody listens on right now (aiosmtpd 1.4's Controller cannot take 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Fault:
    """Answer `reply` to `command` (MAIL, RCPT, DATA) for `who` (None: anyone), `times` times
    (-1: always).

    DATA faults may instead be "drop" (queue it, then hang up before the reply) or "slow" (queue
    it, then answer after `delay` seconds).
    """

    command: str
    reply: str
    who: str | None = None
    times: int = 1
    delay: float = 0.0


class Inbox:
    """An aiosmtpd handler: records each message it queues, plays `faults` in order.

    `delay`: seconds before each message is queued (a slow server); `close_after`: hang up that
    long after each good transaction (like an idle timeout).
    """

    def __init__(self, faults: list[Fault] | None = None, *, delay: float = 0.0) -> None:
        self.faults = list(faults or [])
        self.delay = delay
        self.close_after: float | None = None
        self.envelopes: list[tuple[str, list[str], bytes]] = []  # (sender, recipients, bytes)
        self.rcpts: Counter = Counter()  # RCPT commands seen per address
        self.ehlos = 0
        self.quits = 0
        self.started = 0  # DATA commands begun

    @property
    def received(self) -> list[tuple[list[str], bytes]]:
        return [(rcpts, raw) for _, rcpts, raw in self.envelopes]

    @property
    def accepted(self) -> list[tuple[str, str]]:
        """(first recipient, Message-ID) of each message queued."""
        found = [(rcpts[0], _MESSAGE_ID.search(raw)) for _, rcpts, raw in self.envelopes]
        return [(rcpt, m.group(1).decode() if m else "?") for rcpt, m in found]

    def counts(self) -> Counter:
        return Counter(rcpt for rcpt, _ in self.accepted)

    def messages(self) -> list[EmailMessage]:
        return [parse(raw) for _, raw in self.received]

    def clear(self) -> None:
        self.envelopes.clear()

    def _fault(self, command: str, who: str) -> Fault | None:
        for fault in self.faults:
            if fault.command == command and fault.who in (None, who) and fault.times != 0:
                fault.times -= 1
                return fault
        return None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.ehlos += 1
        session.host_name = hostname
        return responses

    async def handle_QUIT(self, server, session, envelope):  # noqa: N802
        self.quits += 1
        return "221 Bye"

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        fault = self._fault("MAIL", address)
        if fault:
            return fault.reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        self.rcpts[address] += 1
        fault = self._fault("RCPT", address)
        if fault:
            return fault.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        self.started += 1
        fault = self._fault("DATA", envelope.rcpt_tos[0])
        if fault and fault.reply not in ("drop", "slow"):
            return fault.reply
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or envelope.content
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), raw))
        if fault and fault.reply == "drop":
            server.transport.close()  # RELIABILITY S6: queued, but the 250 never arrives
        elif fault and fault.reply == "slow":
            await asyncio.sleep(fault.delay)  # RELIABILITY S7: longer than the client waits
        elif self.close_after is not None:
            asyncio.get_running_loop().call_later(self.close_after, server.transport.close)
        return "250 2.0.0 Queued"


class Passwords:
    """aiosmtpd authenticator accepting user "digest" with password "hunter2"; records every
    username tried."""

    def __init__(self) -> None:
        self.tried: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.tried.append(auth_data.login.decode())
        ok = auth_data.login == b"digest" and auth_data.password == b"hunter2"
        return AuthResult(success=ok, handled=False)


def start_smtp(handler: Inbox, port: int | None = None, **kwargs) -> Controller:
    """Start a real SMTP server on 127.0.0.1 (`kwargs` go to aiosmtpd: TLS, auth); the caller
    stops it."""
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port(), **kwargs)
    controller.start()
    return controller


@contextmanager
def smtp_server(handler: Inbox | None = None, **kwargs) -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 and a free port; stopped on exit."""
    inbox = handler or Inbox()
    controller = start_smtp(inbox, **kwargs)
    try:
        yield inbox, controller.port
    finally:
        controller.stop()

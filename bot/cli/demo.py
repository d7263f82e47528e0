"""`bot demo`: the whole pipeline offline: bundled sample listings, a local SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import tempfile
from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path

from aiosmtpd.controller import Controller

from bot.cli.words import plural
from bot.ledger import Ledger
from bot.mail.render import Renderer
from bot.mail.send import send
from bot.mail.transports import make_transport
from bot.models import MailSettings, Settings, Source, Subscriber
from bot.poll import poll

__all__ = ["run_demo", "demo_settings"]

DEMO_KEYWORDS = (
    '"language model" AND (cascade OR deferral)',
    "title:survey AND recommendation",
    "sparse -medical",
)


class _Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    # aiosmtpd 1.4's Controller cannot take port=0 (DESIGN.md pitfalls): ask the kernel for one.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_settings(folder: Path, samples: Path, port: int) -> Settings:
    """Settings for the demo: three bundled listings, one subscriber, SMTP to loopback `port`."""
    return Settings(
        path=folder / "settings.toml",
        database=f"sqlite:///{folder / 'demo.db'}",
        max_items=10,
        mail=MailSettings(
            transport="smtp",
            host="127.0.0.1",
            port=port,
            security="none",
            from_addr="Paper Digest <digest@example.org>",
        ),
        sources=(
            Source("hf-papers-page", "page", (samples / "page-000.txt").as_uri()),
            Source("hf-daily", "hf-daily", (samples / "hf-daily.json").as_uri()),
            Source("arxiv-cs-cl", "feed", (samples / "arxiv-cs.CL.xml").as_uri()),
        ),
        subscribers=(Subscriber("you@example.org", "You", keywords=DEMO_KEYWORDS),),
    )


async def _cycle(settings: Settings) -> tuple[int, int]:
    with Ledger.open(settings.database) as ledger:
        now = datetime.now(UTC)
        report = await poll(settings, ledger.papers, now)
        transport = make_transport(settings.mail, {})
        try:
            sent = await send(settings, ledger, transport, Renderer(None), now)
        finally:
            await transport.close()
    return len(report.new), sent.emails


def run_demo(html_path: Path | None = None) -> int:
    """One cycle on the samples; prints the email the local server got; 0 when one arrived."""
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bot-demo-") as tmp,
            as_file(files("bot.samples")) as samples,
        ):
            settings = demo_settings(Path(tmp), Path(samples), port)
            new, emails = asyncio.run(_cycle(settings))
    finally:
        controller.stop()
    print(f"demo: {plural(new, 'new paper')} from 3 sample listings; subscriber queries:")
    for query in DEMO_KEYWORDS:
        print(f"  {query}")
    got = plural(len(inbox.messages), "email")
    print(f"demo: the local SMTP server on 127.0.0.1:{port} received {got}\n")
    for raw in inbox.messages:
        _print_message(raw, html_path)
    return 0 if inbox.messages and emails else 1


def _print_message(raw: bytes, html_path: Path | None) -> None:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for name in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "Auto-Submitted",
    ):
        if msg[name]:
            print(f"{name}: {msg[name]}")
    print()
    text = msg.get_body(preferencelist=("plain",))
    print(text.get_content() if text else "(no text part)")
    html = msg.get_body(preferencelist=("html",))
    if html is not None and html_path is not None:
        html_path.write_text(html.get_content(), encoding="utf-8")
        print(f"(HTML part written to {html_path})")

"""Benchmark of sending, in two modes; each run prints both sides and their ratios.

    python benchmarks/send.py                          # sink: 10,000 messages, concurrency 4
    python benchmarks/send.py --messages 1000 --concurrency 2   # a quick run
    python benchmarks/send.py --reply-delay-ms 20 --messages 600    # relay (issue 14)

Sink mode (the default; issue 4) prints messages/s for:
  1. the bot's sender: `bot.mail.send.send` delivering an outbox of 10,000 rendered digests
     (claim, send, commit per message, on SQLite), over `concurrency` reused connections;
  2. the ceiling: a minimal raw asyncio SMTP client pushing the same bytes over the same number
     of reused connections (EHLO once, then MAIL/RCPT/DATA per message, nothing else);
  3. aiosmtplib alone, the same bytes over the same reused connections (the library's own cap);
  4. connect-per-message smtplib, `concurrency` threads, each message its own connection;
and the cost of building one ~20 KB message: bot.mail.mime.build_message against the stdlib
EmailMessage path it replaced, plus the time to fill the outbox (render + build + commit).
Targets (issue 4): 1 >= 80% of 2; 1 >= 1.5x 4; build <= 1 ms.

Relay mode (--reply-delay-ms N) is benchmarks/relay.py: the whole `bot send --all` command against
a relay answering MAIL, RCPT and the final dot after N ms, next to aiosmtplib alone and
connect-per-message smtplib sending the same bytes over as many connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sendkit import (
    KEYWORDS,
    NOW,
    aiosmtplib_alone,
    outbox_bytes,
    owe_digests,
    raw_client,
    readers,
    smtplib_per_message,
    start_server,
)

from bot.ledger import Ledger
from bot.mail.fill import fill
from bot.mail.mime import build_message
from bot.mail.render import Renderer
from bot.mail.send import RetryPolicy, SendReport, send
from bot.mail.transports import SmtpTransport
from bot.models import MailSettings, Settings, Subscriber

# --- the workload ---------------------------------------------------------------------------


def fill_outbox(folder: Path, messages: int, per_email: int, port: int):
    """A ledger whose outbox holds `messages` rendered digests; returns (store, settings, s)."""
    people = readers(messages)
    settings = Settings(
        path=folder / "settings.toml",
        database=f"sqlite:///{folder / 'bench.db'}",
        max_items=per_email,
        mail=MailSettings(transport="smtp", host="127.0.0.1", port=port, security="none"),
        subscribers=tuple(Subscriber(e, keywords=KEYWORDS) for e in people),
    )
    store = owe_digests(settings.database, people, per_email)
    start = time.perf_counter()
    report = SendReport()
    known = {s.email: s for s in settings.subscribers}

    async def fill_outbox() -> None:
        with store.database.worker() as run:
            await fill(
                settings,
                store,
                run,
                Renderer(),
                NOW,
                known,
                set(known),
                None,
                RetryPolicy(),
                report,
            )

    asyncio.run(fill_outbox())
    return store, settings, time.perf_counter() - start


# --- the bot's sender ----------------------------------------------------------------------


def bot_sender(store: Ledger, settings: Settings, concurrency: int) -> float:
    async def run() -> SendReport:
        pool = [SmtpTransport(settings.mail, None) for _ in range(concurrency)]
        try:
            return await send(settings, store, pool, Renderer(), NOW)
        finally:
            await asyncio.gather(*(t.close() for t in pool))

    start = time.perf_counter()
    report = asyncio.run(run())
    elapsed = time.perf_counter() - start
    assert report.emails == len(settings.subscribers), report
    return elapsed


# --- building one message -------------------------------------------------------------------


def stdlib_build(text: str, html: str, **headers: str) -> bytes:
    """The EmailMessage path build_message used before (same headers and encodings)."""
    msg = EmailMessage(policy=policy.SMTP)
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg.as_bytes(policy=policy.SMTP)


def build_costs(text: str, html: str, rounds: int = 300) -> tuple[float, float]:
    args = {
        "from_addr": "Paper Digest <digest@example.org>",
        "to_addr": "reader@example.org",
        "to_name": "Reader",
        "subject": "8 new papers: language model",
        "text": text,
        "html": html,
        "message_id": "<digest.0123456789abcdef@example.org>",
        "date": NOW,
        "list_id": "Paper digest <digest.example.org>",
        "unsubscribe": "https://digest.example.org/u/x",
    }
    headers = {
        "From": "Paper Digest <digest@example.org>",
        "To": "Reader <reader@example.org>",
        "Subject": "8 new papers: language model",
        "Message-ID": "<digest.0123456789abcdef@example.org>",
    }

    def timed(func) -> float:
        func()
        start = time.perf_counter()
        for _ in range(rounds):
            func()
        return (time.perf_counter() - start) / rounds * 1000

    return timed(lambda: build_message(**args)), timed(lambda: stdlib_build(text, html, **headers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, help="digests sent (sink 10,000, relay 600)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--per-email", type=int, default=8, help="papers per digest (~20 KB)")
    parser.add_argument(
        "--reply-delay-ms",
        type=float,
        help="relay mode: the server answers MAIL, RCPT and the final dot after this many ms",
    )
    parser.add_argument(
        "--delay-every-reply",
        action="store_true",
        help="relay mode: the greeting, EHLO, DATA and QUIT wait too (a distant server)",
    )
    args = parser.parse_args()
    if args.reply_delay_ms is not None:
        import relay

        relay.main(
            args.messages or 600,
            args.concurrency,
            args.per_email,
            args.reply_delay_ms,
            args.delay_every_reply,
        )
        return
    sink_mode(args.messages or 10_000, args.concurrency, args.per_email)


def sink_mode(n: int, concurrency: int, per_email: int) -> None:
    sink, port = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="bot-bench-") as tmp:
            store, settings, fill_s = fill_outbox(Path(tmp), n, per_email, port)
            messages = outbox_bytes(store, n)
            size = sum(len(d) for _, d in messages) / len(messages)
            ours = bot_sender(store, settings, concurrency)
            store.close()
        ceiling = raw_client(port, messages, concurrency)
        library = aiosmtplib_alone(port, messages, concurrency)
        naive = smtplib_per_message(port, messages, concurrency)
    finally:
        sink.terminate()
        sink.wait(10)
    parsed = message_from_bytes(messages[0][1], policy=policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    new_ms, old_ms = build_costs(text, html)
    print(f"{n} digests, {size / 1000:.1f} KB each, concurrency {concurrency}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"bot sender (outbox -> SMTP)         : {n / ours:8.0f} msg/s  ({ours:.2f} s)")
    print(f"ceiling (raw client, same bytes)    : {n / ceiling:8.0f} msg/s  ({ceiling:.2f} s)")
    print(f"aiosmtplib alone (same bytes)       : {n / library:8.0f} msg/s  ({library:.2f} s)")
    print(f"smtplib, connect per message        : {n / naive:8.0f} msg/s  ({naive:.2f} s)")
    print(f"  bot / ceiling = {ceiling / ours:.0%} (target >= 80%)")
    print(f"  bot / aiosmtplib alone = {library / ours:.0%} (what the ledger costs)")
    print(f"  bot / connect-per-message = {naive / ours:.2f}x (target >= 1.5x)")
    print(f"build one message: {new_ms:.3f} ms (stdlib EmailMessage path: {old_ms:.3f} ms; "
          "target <= 1 ms)")  # fmt: skip
    print(f"fill the outbox (render + build + commit): {fill_s / n * 1000:.2f} ms per digest")


if __name__ == "__main__":
    main()

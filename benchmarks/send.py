"""Benchmark of sending: 10,000 digests of ~20 KB to a local SMTP sink (a separate process).

    python benchmarks/send.py                          # 10,000 messages, concurrency 4
    python benchmarks/send.py --messages 1000 --concurrency 2   # a quick run

One run prints messages/s for:
  1. the bot's sender: `bot.mail.send.send` delivering an outbox of 10,000 rendered digests
     (claim, send, commit per message, on SQLite), over `concurrency` reused connections;
  2. the ceiling: a minimal raw asyncio SMTP client pushing the same bytes over the same number
     of reused connections (EHLO once, then MAIL/RCPT/DATA per message, nothing else);
  3. aiosmtplib alone, the same bytes over the same reused connections (the library's own cap);
  4. connect-per-message smtplib, `concurrency` threads, each message its own connection;
and the cost of building one ~20 KB message: bot.mail.mime.build_message against the stdlib
EmailMessage path it replaced, plus the time to fill the outbox (render + build + commit).
Targets (issue 4): 1 >= 80% of 2; 1 >= 1.5x 4; build <= 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import identity  # noqa: E402
from bot.ledger import Ledger  # noqa: E402
from bot.ledger.schema import outbox, outbox_data  # noqa: E402
from bot.mail.fill import fill  # noqa: E402
from bot.mail.mime import build_message  # noqa: E402
from bot.mail.render import Renderer  # noqa: E402
from bot.mail.send import RetryPolicy, SendReport, send  # noqa: E402
from bot.mail.transports import SmtpTransport  # noqa: E402
from bot.models import MailSettings, Paper, Settings, Subscriber  # noqa: E402

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
SENDER = "digest@example.org"
WORDS = (
    "language model cascade deferral judge sparse attention survey recommendation benchmark "
    "evaluation reasoning retrieval agent alignment diffusion transformer token scaling"
).split()


# --- the sink: a raw asyncio SMTP server in its own process ------------------------------------


async def _sink(port: int) -> None:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 0\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    await reader.readuntil(b"\r\n.\r\n")
                    writer.write(b"250 2.0.0 queued\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:  # MAIL, RCPT, RSET, NOOP
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", port, limit=1 << 22)
    async with server:
        await server.serve_forever()


def start_sink() -> tuple[subprocess.Popen, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "--sink", str(port)])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the sink did not start")


# --- the workload ---------------------------------------------------------------------------


def digest_papers(count: int, per_email: int) -> list[Paper]:
    """`count` papers with ~500-byte abstracts; 8 make a ~20 KB digest (text + HTML)."""
    papers = []
    for n in range(count):
        words = [WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(70)]
        papers.append(
            identity.identify(
                Paper(
                    title=f"Paper {n}: {' '.join(words[:8])}",
                    url=f"https://arxiv.org/abs/2511.{n:05d}",
                    abstract=" ".join(words),
                    authors=("Ada Lovelace", "Alan Turing", "Grace Hopper"),
                    sources=("arxiv-cs-cl",),
                    published=NOW,
                )
            )
        )
    return papers


def fill_outbox(folder: Path, messages: int, per_email: int, port: int):
    """A ledger whose outbox holds `messages` rendered digests; returns (store, settings, s)."""
    people = [f"reader{i:05d}@example.org" for i in range(messages)]
    settings = Settings(
        path=folder / "settings.toml",
        database=f"sqlite:///{folder / 'bench.db'}",
        max_items=per_email,
        mail=MailSettings(transport="smtp", host="127.0.0.1", port=port, security="none"),
        subscribers=tuple(Subscriber(e, keywords=("language model",)) for e in people),
    )
    store = Ledger.open(settings.database)
    store.papers.ensure_subscribers(people, NOW)
    papers = digest_papers(messages * per_email, per_email)
    plan = [
        (people[i // per_email], paper.id, ("language model",)) for i, paper in enumerate(papers)
    ]
    store.papers.record(papers, NOW, lambda new: plan)
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


def outbox_bytes(store: Ledger, count: int) -> list[tuple[str, bytes]]:
    query = (
        select(outbox.c.email, outbox_data.c.data)
        .join(outbox_data, outbox_data.c.outbox_id == outbox.c.id)
        .where(outbox.c.id <= count)
        .order_by(outbox.c.id)
    )
    with store.database.read() as conn:
        return [(email, bytes(data)) for email, data in conn.execute(query)]


# --- the three senders ----------------------------------------------------------------------


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


def raw_client(port: int, messages: list[tuple[str, bytes]], concurrency: int) -> float:
    """The ceiling: EHLO once per connection, then MAIL/RCPT/DATA per message, nothing else."""

    async def connection(share: list[tuple[str, bytes]]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)

        async def reply() -> bytes:
            while True:
                line = await reader.readline()
                if line[3:4] != b"-":
                    return line

        await reply()
        writer.write(b"EHLO bench\r\n")
        await reply()
        for rcpt, data in share:
            # Dot-stuffing, as any client must (RFC 5321 section 4.5.2).
            body = data.replace(b"\r\n.", b"\r\n..")
            writer.write(f"MAIL FROM:<{SENDER}>\r\n".encode())
            await reply()
            writer.write(f"RCPT TO:<{rcpt}>\r\n".encode())
            await reply()
            writer.write(b"DATA\r\n")
            await reply()
            writer.write(body + b"\r\n.\r\n")
            answer = await reply()
            assert answer.startswith(b"250"), answer
        writer.write(b"QUIT\r\n")
        await reply()
        writer.close()

    async def run() -> None:
        await asyncio.gather(*(connection(messages[i::concurrency]) for i in range(concurrency)))

    start = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - start


def aiosmtplib_alone(port: int, messages: list[tuple[str, bytes]], concurrency: int) -> float:
    """aiosmtplib with nothing around it: the same bytes over the same reused connections.

    The bot's sender cannot beat this: it is the library the stack prescribes, per message.
    """

    async def connection(share: list[tuple[str, bytes]]) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        for rcpt, data in share:
            await smtp.sendmail(SENDER, [rcpt], data)
        await smtp.quit()

    async def run() -> None:
        await asyncio.gather(*(connection(messages[i::concurrency]) for i in range(concurrency)))

    start = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - start


def smtplib_per_message(port: int, messages: list[tuple[str, bytes]], concurrency: int) -> float:
    def worker(share: list[tuple[str, bytes]]) -> None:
        for rcpt, data in share:
            with smtplib.SMTP("127.0.0.1", port) as smtp:
                smtp.sendmail(SENDER, [rcpt], data)

    threads = [
        threading.Thread(target=worker, args=(messages[i::concurrency],))
        for i in range(concurrency)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


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
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--per-email", type=int, default=8, help="papers per digest (~20 KB)")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        asyncio.run(_sink(args.sink))
        return

    sink, port = start_sink()
    try:
        with tempfile.TemporaryDirectory(prefix="bot-bench-") as tmp:
            store, settings, fill_s = fill_outbox(Path(tmp), args.messages, args.per_email, port)
            messages = outbox_bytes(store, args.messages)
            size = sum(len(d) for _, d in messages) / len(messages)
            ours = bot_sender(store, settings, args.concurrency)
            store.close()
        ceiling = raw_client(port, messages, args.concurrency)
        library = aiosmtplib_alone(port, messages, args.concurrency)
        naive = smtplib_per_message(port, messages, args.concurrency)
    finally:
        sink.terminate()
        sink.wait(10)
    n = args.messages
    parsed = message_from_bytes(messages[0][1], policy=policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    new_ms, old_ms = build_costs(text, html)
    print(f"{n} digests, {size / 1000:.1f} KB each, concurrency {args.concurrency}, "
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

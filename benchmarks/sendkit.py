"""The pieces benchmarks/send.py shares between its two modes: the mail server (a raw sink, or a
relay that takes its time to answer), the workload (a ledger owing ~20 KB digests) and the
baselines that push the same bytes without the bot (a raw socket client, aiosmtplib alone,
connect-per-message smtplib).

The server runs in its own process (`python sendkit.py --serve PORT [--reply-delay-ms N]`) so
it does not share the measured process's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import identity  # noqa: E402
from bot.ledger import Ledger  # noqa: E402
from bot.ledger.schema import outbox, outbox_data  # noqa: E402
from bot.models import Paper  # noqa: E402

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
SENDER = "digest@example.org"
KEYWORDS = ("language model",)
WORDS = (
    "language model cascade deferral judge sparse attention survey recommendation benchmark "
    "evaluation reasoning retrieval agent alignment diffusion transformer token scaling"
).split()


# --- the server: a raw asyncio SMTP server in its own process --------------------------------


async def serve(port: int, delay: float, every: bool = False) -> None:
    """An SMTP server that queues nothing. With `delay` (seconds) it is a relay doing its work
    before answering MAIL (sender checks), RCPT (recipient lookup) and the final dot (queueing the
    message): each of those replies is written `delay` after the command was read, one command at
    a time per connection, as a server works through pipelined commands in order (RFC 2920
    section 3.1). The greeting, EHLO, DATA's 354, RSET, NOOP and QUIT are answered at once, unless
    `every`: then every reply waits `delay` (a distant server: the network's round trip).
    Connections are served concurrently: one session's wait never holds up another's.
    """

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def answer(reply: bytes, slow: bool = False) -> None:
            if (slow or every) and delay:
                await asyncio.sleep(delay)
            writer.write(reply)
            await writer.drain()

        try:
            await answer(b"220 relay ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    await answer(b"250-relay\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 0\r\n")
                elif verb == b"DATA":
                    await answer(b"354 go ahead\r\n")
                    await reader.readuntil(b"\r\n.\r\n")
                    await answer(b"250 2.0.0 queued\r\n", slow=True)
                elif verb == b"QUIT":
                    await answer(b"221 bye\r\n")
                    break
                else:
                    await answer(b"250 OK\r\n", slow=verb in (b"MAIL", b"RCPT"))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", port, limit=1 << 22)
    async with server:
        await server.serve_forever()


def start_server(delay_ms: float = 0.0, every: bool = False) -> tuple[subprocess.Popen, int]:
    """The server (see `serve`) in a process of its own, listening: (process, port). The caller
    stops it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, __file__, "--serve", str(port), "--reply-delay-ms", str(delay_ms)]
    command += ["--delay-every-reply"] if every else []
    process = subprocess.Popen(command)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the mail server did not start")


# --- the workload ---------------------------------------------------------------------------


def readers(count: int) -> list[str]:
    return [f"reader{i:05d}@example.org" for i in range(count)]


def digest_papers(count: int) -> list[Paper]:
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


def owe_digests(database: str, people: list[str], per_email: int) -> Ledger:
    """A ledger at `database` owing each of `people` `per_email` papers of their own."""
    store = Ledger.open(database)
    store.papers.ensure_subscribers(people, NOW)
    papers = digest_papers(len(people) * per_email)
    plan = [(people[i // per_email], paper.id, KEYWORDS) for i, paper in enumerate(papers)]
    store.papers.record(papers, NOW, lambda new: plan)
    return store


def outbox_bytes(store: Ledger, count: int) -> list[tuple[str, bytes]]:
    """(recipient, bytes) of the first `count` emails in the outbox, in order."""
    query = (
        select(outbox.c.email, outbox_data.c.data)
        .join(outbox_data, outbox_data.c.outbox_id == outbox.c.id)
        .order_by(outbox.c.id)
        .limit(count)
    )
    with store.database.read() as conn:
        return [(email, bytes(data)) for email, data in conn.execute(query)]


# --- the baselines: the same bytes, without the bot --------------------------------------------


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

    return _timed_connections(connection, messages, concurrency)


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

    return _timed_connections(connection, messages, concurrency)


def _timed_connections(connection, messages: list[tuple[str, bytes]], concurrency: int) -> float:
    """Seconds for `concurrency` connections, each sending every concurrency-th message."""

    async def run() -> None:
        await asyncio.gather(*(connection(messages[i::concurrency]) for i in range(concurrency)))

    start = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - start


def smtplib_per_message(port: int, messages: list[tuple[str, bytes]], concurrency: int) -> float:
    """rss2email's way: each message its own smtplib connection, `concurrency` threads."""

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the benchmarks' SMTP server")
    parser.add_argument("--serve", type=int, required=True, help="port")
    parser.add_argument("--reply-delay-ms", type=float, default=0.0)
    parser.add_argument("--delay-every-reply", action="store_true")
    options = parser.parse_args()
    asyncio.run(serve(options.serve, options.reply_delay_ms / 1000, options.delay_every_reply))

"""Benchmark of the recipients' page (issue 15): the server `bot run` embeds, on loopback.

    python benchmarks/web.py                     # 1,000 subscribers, 300 requests of each kind
    python benchmarks/web.py --requests 50       # a quick run

A SQLite ledger in a temporary folder with `--subscribers` subscribers, each sent 5 emails (so the
page lists its last emails); the page server (bot.web.server.PageServer) started in this process's
event loop; one httpx client over loopback. Prints, per kind of request: the median and 95th
percentile time, and the size of the answer: GET of the page, GET with a forged token (the 404),
POST of the one-click body (each to another subscriber: a stop and its drop, one commit); and the
cost of a claim (bot.ledger.claims) with stops on the ledger, against none.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.ledger import Ledger  # noqa: E402
from bot.models import Settings, Subscriber, WebSettings  # noqa: E402
from bot.web.server import PageServer  # noqa: E402
from bot.web.tokens import token_for  # noqa: E402

SECRET = b"benchmark-secret-0123456789abcdef-0123"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _ledger(folder: Path, people: list[str]) -> Ledger:
    ledger = Ledger.open(f"sqlite:///{folder / 'bench.db'}")
    lease = timedelta(minutes=5)
    for n in range(5):
        for email in people:
            ledger.outbox.add_email(
                email,
                [],
                f"<m{n}.{email}>",
                f"Subject: {n + 3} new papers: sparse, agents\r\nTo: {email}\r\n\r\nbody".encode(),
                NOW,
            )
        while rows := ledger.outbox.claim_due("bench", NOW, lease, 500):
            ledger.outbox.emails_sent([r.id for r in rows], NOW + timedelta(hours=n))
    return ledger


def _claim_cost(ledger: Ledger, people: list[str], stops: int) -> float:
    """Seconds per claim of 8 rows, with `stops` addresses stopped."""
    for email in people[:stops]:
        ledger.recipients.pause(email, NOW, "bench")
    for email in people[stops:]:
        ledger.outbox.add_email(email, [], f"<c.{email}>", b"Subject: x\r\n\r\nx", NOW)
    started, claims = time.perf_counter(), 0
    while rows := ledger.outbox.claim_due("bench", NOW, timedelta(minutes=5), 8):
        claims += 1
        ledger.outbox.release([r.id for r in rows], "bench")
        if claims == 200:
            break
    return (time.perf_counter() - started) / max(claims, 1)


async def _timed(client: httpx.AsyncClient, calls: list) -> tuple[list[float], int]:
    times, size = [], 0
    for method, path, body in calls:
        started = time.perf_counter()
        answer = await client.request(method, path, content=body)
        times.append(time.perf_counter() - started)
        size = len(answer.content)
    return times, size


def _line(name: str, times: list[float], size: int) -> str:
    ordered = sorted(times)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (
        f"{name:<22} median {statistics.median(times) * 1000:6.2f} ms   "
        f"p95 {p95 * 1000:6.2f} ms   {size:6d} bytes"
    )


async def main(subscribers: int, requests: int) -> None:
    people = [f"person{n}@example.org" for n in range(subscribers)]
    with tempfile.TemporaryDirectory() as tmp:
        ledger = _ledger(Path(tmp), people)
        web = WebSettings("127.0.0.1", 0, "https://digest.example.org", secret=SECRET)
        settings = Settings(
            path=Path(tmp) / "settings.toml",
            web=web,
            subscribers=tuple(Subscriber(e, keywords=("sparse", "agents")) for e in people),
        )
        server = PageServer(lambda: settings, ledger.recipients, lambda: NOW)
        runner_port = _free_port()
        await server.start("127.0.0.1", runner_port)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner_port}") as client:
                pages = [("GET", f"/u/{token_for(SECRET, people[0])}", None)] * 5
                await _timed(client, pages)  # warm up
                kinds = {
                    "GET page": [
                        ("GET", f"/u/{token_for(SECRET, people[n % subscribers])}", None)
                        for n in range(requests)
                    ],
                    "GET forged token": [
                        ("GET", f"/u/{token_for(b'x' * 40, people[n % subscribers])}", None)
                        for n in range(requests)
                    ],
                    "POST one-click": [
                        (
                            "POST",
                            f"/u/{token_for(SECRET, people[n % subscribers])}",
                            b"List-Unsubscribe=One-Click",
                        )
                        for n in range(min(requests, subscribers))
                    ],
                }
                print(f"{subscribers} subscribers, 5 emails each; {requests} requests per kind")
                for name, calls in kinds.items():
                    times, size = await _timed(client, calls)
                    print(_line(name, times, size))
        finally:
            await server.stop()
        ledger.close()
    with tempfile.TemporaryDirectory() as tmp:
        for stops in (0, subscribers // 10):
            with Ledger.open(f"sqlite:///{Path(tmp) / f'claims{stops}.db'}") as fresh:
                cost = _claim_cost(fresh, people, stops)
            print(f"claim of 8 emails, {stops:4d} stopped addresses: {cost * 1e6:7.0f} µs")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    options = parser.parse_args()
    asyncio.run(main(options.subscribers, options.requests))

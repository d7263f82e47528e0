"""Relay mode of benchmarks/send.py (issue 14): `bot send --all` through a relay that takes time.

    python benchmarks/send.py --reply-delay-ms 20 --messages 600 --concurrency 4

The relay (benchmarks/sendkit.py, its own process) answers MAIL, RCPT and the final dot of each
message `delay` ms after reading the command, one command at a time per connection; the greeting,
EHLO, DATA's 354 and QUIT at once. One run prints, for `messages` digests of `per_email` papers:
  1. the bot: the real `bot send --all` command in a subprocess, timed from start to exit: it
     composes each subscriber's digest from the owed papers, stores it in the outbox and sends it
     over `concurrency` connections (`[mail] concurrency`), recording each one sent;
     and the same command again with nothing left to send (its fixed cost: start-up, settings,
     ledger, the closing summary);
  2. aiosmtplib alone: the bytes the bot sent, over as many reused connections;
  3. connect-per-message smtplib (rss2email's way), as many threads;
  4. a raw socket client on as many reused connections (the best any client can do here);
and the arithmetic of the delays: each message waits for three delayed replies on either kind of
connection (four and seven with --delay-every-reply, where the greeting, EHLO, DATA and QUIT
wait too).
Targets (issue 14): 1 >= 0.8 of 2 (throughput); 1 >= 3x 3.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
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

_DELAYED_REPLIES = 3  # MAIL, RCPT, the final dot


def settings_file(folder: Path, port: int, people: list[str], per_email: int, concurrency: int):
    """settings.toml for the bot: the ledger in `folder`, the relay, `people` as subscribers."""
    subscribers = "".join(
        f'[[subscribers]]\nemail = "{e}"\nkeywords = ["{KEYWORDS[0]}"]\n' for e in people
    )
    path = folder / "settings.toml"
    path.write_text(
        f'[bot]\ndatabase = "sqlite:///{folder / "bench.db"}"\nmax_items = {per_email}\n'
        '[[sources]]\nname = "unused"\ntype = "page"\nurl = "https://example.org/p"\n'
        f'[mail]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f'concurrency = {concurrency}\ntimeout = 30\nfrom = "Paper Digest <digest@example.org>"\n'
        + subscribers,
        encoding="utf-8",
    )
    return path


def bot_send_all(config: Path, folder: Path) -> tuple[float, str]:
    """Seconds the whole `bot send --all` command takes, and its last line of output."""
    bot = Path(sys.executable).parent / "bot"
    command = [str(bot)] if bot.exists() else [sys.executable, "-m", "bot"]
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    env["BOT_NOW"] = NOW.isoformat()
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "--config", str(config), "send", "--all"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bot send --all failed ({done.returncode}): {done.stderr}")
    return elapsed, done.stdout.strip().splitlines()[-1]


def main(n: int, concurrency: int, per_email: int, delay_ms: float, every: bool = False) -> None:
    server, port = start_server(delay_ms, every)
    try:
        with tempfile.TemporaryDirectory(prefix="bot-relay-") as tmp:
            folder = Path(tmp)
            people = readers(n)
            owe_digests(f"sqlite:///{folder / 'bench.db'}", people, per_email).close()
            config = settings_file(folder, port, people, per_email, concurrency)
            ours, said = bot_send_all(config, folder)
            fixed, _ = bot_send_all(config, folder)
            with Ledger.open(f"sqlite:///{folder / 'bench.db'}") as store:
                sent = store.status().deliveries
                messages = outbox_bytes(store, n + 1)
        assert len(messages) == n, f"{len(messages)} emails made for {n} subscribers"
        assert all(c["sent"] == per_email for c in sent.values()) and len(sent) == n, said
        library = aiosmtplib_alone(port, messages, concurrency)
        naive = smtplib_per_message(port, messages, concurrency)
        ceiling = raw_client(port, messages, concurrency)
    finally:
        server.terminate()
        server.wait(10)
    size = sum(len(d) for _, d in messages) / n
    # Command/reply exchanges a message: on a reused connection MAIL, RCPT, DATA, the final dot;
    # connect per message adds the greeting, EHLO and QUIT (and the TCP handshake).
    reused, fresh = (4, 7) if every else (_DELAYED_REPLIES, _DELAYED_REPLIES)
    floor = n / concurrency * reused * delay_ms / 1000
    floor_fresh = n / concurrency * fresh * delay_ms / 1000
    print(f"{n} digests of {per_email} papers, {size / 1000:.1f} KB each, {concurrency} "
          f"connections, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")  # fmt: skip
    if every:
        print(f"relay: every reply comes {delay_ms:g} ms after its command")
    else:
        print(f"relay: MAIL, RCPT and the final dot answered after {delay_ms:g} ms "
              "(greeting, EHLO, DATA, QUIT at once)")  # fmt: skip
    print(f"bot send --all (compose + send)      : {n / ours:7.1f} msg/s  ({ours:.2f} s; "
          f"of it {fixed:.2f} s the same command with nothing to send)")  # fmt: skip
    print(f"aiosmtplib alone (same bytes)        : {n / library:7.1f} msg/s  ({library:.2f} s)")
    print(f"smtplib, connect per message         : {n / naive:7.1f} msg/s  ({naive:.2f} s)")
    print(f"raw client, reused connections       : {n / ceiling:7.1f} msg/s  ({ceiling:.2f} s)")
    print(f"delayed replies a message: {reused} on a reused connection, {fresh} connecting per "
          f"message; floors {n} / {concurrency} x that x {delay_ms:g} ms = {floor:.2f} s and "
          f"{floor_fresh:.2f} s: no client on {concurrency} reused connections beats "
          f"connect-per-message by more than {floor_fresh / floor:.2f}x plus the undelayed "
          f"round trips (measured best: raw client {naive / ceiling:.2f}x)")  # fmt: skip
    print(f"  bot / aiosmtplib alone = {library / ours:.2f} (target >= 0.8)")
    print(f"  bot vs connect-per-message smtplib = {naive / ours:.2f}x (target >= 3x)")

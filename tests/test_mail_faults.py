"""Hostile and odd mail servers (issue 11): size refusals, a slow final reply, escape sequences
in replies, old deferred emails, a full disk under the Maildir. Real aiosmtpd servers on loopback.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from support import (
    FIXTURES,
    BotRun,
    Fault,
    Inbox,
    bot_command,
    http_site,
    page_settings,
    parse,
    run_bot,
    smtp_server,
    start_smtp,
    titles_in,
    wait_until,
)
from support.sending import PEOPLE, T0, run, settings_for, states

from bot import identity
from bot.errors import TemporarySendError
from bot.ledger import Ledger
from bot.mail.digest import compose
from bot.mail.render import Renderer
from bot.mail.send import RetryPolicy, send
from bot.mail.transports import MaildirTransport, make_transport
from bot.models import Paper

ALICE = PEOPLE[0]
INNOCENT = [f"Innocent study {word}" for word in "ABCDEFGHI"]
BIG = "The enormous study"


class Keeper(Inbox):
    """Inbox that also keeps the bytes of each message it queues; refuses above `limit` bytes
    with `too_big` at the end of DATA (a server without the SIZE extension)."""

    def __init__(self, limit: int | None = None, too_big: str = "") -> None:
        super().__init__()
        self.limit, self.too_big, self.kept = limit, too_big, []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        content = envelope.original_content or envelope.content
        if self.limit is not None and len(content) > self.limit:
            return self.too_big
        self.kept.append(content)
        return await super().handle_DATA(server, session, envelope)


def _paper(title: str, abstract: str, n: int) -> Paper:
    return identity.identify(
        Paper(
            title=title,
            url=f"https://arxiv.org/abs/2511.{n:05d}v1",
            abstract=abstract,
            sources=("arxiv",),
        )
    )


def _owe_ten(store: Ledger) -> list[Paper]:
    """Nine ordinary papers and one with a huge abstract, all owed to ALICE."""
    store.papers.ensure_subscribers([ALICE], T0 - timedelta(days=1))
    papers = [_paper(t, "A paper about a method. " * 40, n) for n, t in enumerate(INNOCENT)]
    papers.append(_paper(BIG, "A paper about everything, at length. " * 8000, 99))
    store.papers.record(papers, T0, lambda new: [(ALICE, p.id, ("paper",)) for p in new])
    return papers


def _size(settings, store, renderer, titles: list[str]) -> int:
    [subscriber] = settings.subscribers
    chosen = [d for d in store.deliveries.pending(ALICE) if d.paper.title in titles]
    return len(compose(settings, subscriber, chosen, renderer, T0).data)


@pytest.fixture(scope="module")
def renderer():
    return Renderer()


@pytest.fixture
def store(tmp_path: Path):
    with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as opened:
        yield opened


# --- item 1: a size refusal splits the email ---------------------------------------------------


@pytest.mark.parametrize("where", ["size-at-mail", "552-at-data", "5.3.4-at-data"], ids=lambda w: w)
def test_a_size_refusal_splits_the_email_and_only_the_too_big_paper_fails(store, renderer, where):
    _owe_ten(store)
    # Whole abstracts (abstract = "full"): a snippet would make the big paper small.
    probe = replace(settings_for(1, people=[ALICE]), abstract="full")
    one = max(_size(probe, store, renderer, [t]) for t in INNOCENT)
    limit = 4 * one  # four ordinary papers fit in one email, the big paper never does
    assert _size(probe, store, renderer, [*INNOCENT, BIG]) > limit
    assert _size(probe, store, renderer, [BIG]) > limit
    if where == "size-at-mail":  # aiosmtpd's own SIZE limit: 552 at MAIL (RFC 1870)
        handler, extra = Keeper(), {"data_size_limit": limit}
    elif where == "552-at-data":
        handler, extra = Keeper(limit, "552 message size exceeds fixed maximum"), {}
    else:
        handler, extra = Keeper(limit, "554 5.3.4 Message too big for system"), {}
    controller = start_smtp(handler, **extra)
    try:
        settings = replace(settings_for(controller.port, people=[ALICE]), abstract="full")
        report = run(settings, store, renderer)
    finally:
        controller.stop()
    emails = [parse(raw) for raw in handler.kept]
    got = Counter(t for msg in emails for t in titles_in(msg, [*INNOCENT, BIG]))
    assert got == Counter(INNOCENT)  # every innocent paper once, the big one never
    assert len(emails) >= 3  # 9 papers, at most 4 per email
    assert states(store) == {ALICE: {"sent": 9, "failed": 1}}
    assert report.papers == 9
    [line] = report.failed
    assert line.startswith(f"{ALICE}: refused: 55") and ("size" in line or "too big" in line)
    # Each email sent is a whole, well-formed digest naming its own count.
    for msg in emails:
        count = len(titles_in(msg, INNOCENT))
        assert msg["Subject"].startswith(f"{count} new paper")


# --- item 2: the reply to the final dot may take long -------------------------------------------


def test_a_final_reply_slower_than_the_command_timeout_is_one_email_not_a_retry(store, renderer):
    # RFC 5321 4.5.3.2.6: 10 minutes for the reply to the final dot. Server answers in 1.5 s,
    # mail.timeout is 0.5 s: before the fix each run timed out and sent the email again.
    handler = Inbox(faults=[Fault("DATA", "slow", delay=1.5, times=-1)])
    controller = start_smtp(handler)
    try:
        _owe(store)
        settings = settings_for(controller.port, people=[ALICE], timeout=0.5)
        reports = [run(settings, store, renderer, now=T0 + timedelta(hours=h)) for h in range(3)]
    finally:
        controller.stop()
    assert handler.counts() == Counter({ALICE: 1})
    assert [r.emails for r in reports] == [1, 0, 0]
    assert reports[0].deferred == []
    assert states(store) == {ALICE: {"sent": 1}}


def test_the_command_timeout_still_bounds_a_silent_mail_command(store, renderer):
    handler = _SilentAtMail()
    controller = start_smtp(handler)
    try:
        _owe(store)
        settings = settings_for(controller.port, people=[ALICE], timeout=0.5)
        began = time.monotonic()
        report = run(settings, store, renderer)
        seconds = time.monotonic() - began
    finally:
        handler.release.set()
        controller.stop()
    assert report.emails == 0 and report.deferred
    assert "did not answer within 0.5 s" in report.deferred[0]
    assert seconds < 5


class _SilentAtMail(Inbox):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 3)
        return await super().handle_MAIL(server, session, envelope, address, options)


def _owe(store: Ledger) -> Paper:
    store.papers.ensure_subscribers([ALICE], T0 - timedelta(days=1))
    paper = _paper("A paper", "An abstract about a paper.", 1)
    store.papers.record([paper], T0, lambda new: [(ALICE, p.id, ("paper",)) for p in new])
    return paper


def _settings_file(folder: Path, port: int, timeout: float) -> Path:
    path = folder / "settings.toml"
    path.write_text(
        '[bot]\ndatabase = "sqlite:///bot.db"\n'
        f'[mail]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f"timeout = {timeout}\n"
        '[[sources]]\nname = "a"\ntype = "page"\nurl = "https://example.org/p"\n'
        f'[[subscribers]]\nemail = "{ALICE}"\nkeywords = ["paper"]\n',
        encoding="utf-8",
    )
    return path


def test_bot_send_three_times_against_a_slow_final_reply_mails_one_copy(tmp_path: Path):
    handler = Inbox(faults=[Fault("DATA", "slow", delay=2.5, times=-1)])
    controller = start_smtp(handler)
    try:
        config = _settings_file(tmp_path, controller.port, 1)
        with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
            _owe(store)
        results = [
            run_bot("--config", str(config), "send", "--all", cwd=tmp_path) for _ in range(3)
        ]
    finally:
        controller.stop()
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    assert results[0].stdout.strip() == "1 email sent with 1 paper"
    assert handler.counts() == Counter({ALICE: 1})
    assert len({mid for _, mid in handler.accepted}) == 1


# --- item 10: a server's text never reaches the terminal raw -----------------------------------

HOSTILE = "550 5.1.1 \x1b[2J\x1b]0;owned\x07no such\x08\x08 user\x1b[31m"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_control_characters_in_a_reply_are_removed_from_bot_send_and_bot_status(tmp_path: Path):
    handler = Inbox(faults=[Fault("RCPT", HOSTILE, times=-1)])
    controller = start_smtp(handler)
    try:
        config = _settings_file(tmp_path, controller.port, 2)
        with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
            _owe(store)
        sent = run_bot("--config", str(config), "send", "--all", cwd=tmp_path)
    finally:
        controller.stop()
    status = run_bot("--config", str(config), "status", cwd=tmp_path)
    assert sent.returncode == 1 and status.returncode == 0
    for shown in (sent.stderr, sent.stdout, status.stdout, status.stderr):
        assert not _CONTROL.search(shown), repr(shown)
    assert "550 5.1.1 [2J]0;ownedno such user[31m" in sent.stderr
    assert "550 5.1.1 [2J]0;ownedno such user[31m" in status.stdout


def test_bot_status_cleans_a_reply_stored_raw_by_an_older_version(tmp_path: Path):
    config = _settings_file(tmp_path, 25, 2)
    with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
        paper = _owe(store)
        store.outbox.add_email(
            ALICE, [paper.id], "<old@example.org>", b"Subject: x\r\n\r\nx\r\n", T0
        )
        [row] = store.outbox.claim_due("old", T0, timedelta(minutes=5), 1)
        store.outbox.email_failed(row.id, HOSTILE, T0)
    status = run_bot("--config", str(config), "status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert not _CONTROL.search(status.stdout), repr(status.stdout)
    assert "last error 2026-11-22T08:00:00+00:00: 550 5.1.1 [2J]0;ownedno such user[31m" in (
        status.stdout
    )


# --- item 3: deferred emails are not retried forever -------------------------------------------


def test_an_email_deferred_for_5_days_becomes_failed_with_the_last_reply(tmp_path: Path):
    busy = "451 4.2.0 mailbox busy, try later"
    handler = Inbox(faults=[Fault("RCPT", busy, times=-1)])
    controller = start_smtp(handler)
    renderer = Renderer()
    try:
        config = _settings_file(tmp_path, controller.port, 2)
        settings = settings_for(controller.port, people=[ALICE])
        with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
            _owe(store)
            for hours in (0, 24, 4 * 24, 5 * 24 - 1):  # deferred, retried, still within 5 days
                report = run(settings, store, renderer, now=T0 + timedelta(hours=hours))
                assert report.failed == [] and report.deferred, hours
                assert states(store) == {ALICE: {"pending": 1}}
            report = run(settings, store, renderer, now=T0 + timedelta(days=5, hours=1))
            assert states(store) == {ALICE: {"failed": 1}}
            assert report.deferred == []
            [line] = report.failed
            assert line.startswith(f"{ALICE}: refused: not accepted for 5 days: ")
            assert line.endswith(busy)
            # Nothing is tried again.
            tried = handler.rcpts[ALICE]
            run(settings, store, renderer, now=T0 + timedelta(days=6))
            assert handler.rcpts[ALICE] == tried
    finally:
        controller.stop()
    status = run_bot("--config", str(config), "status", cwd=tmp_path)
    assert f"subscriber {ALICE}: 0 pending, 0 sent, 1 failed, 0 quarantined" in status.stdout
    assert status.stdout.rstrip().endswith(busy)


def test_an_email_accepted_on_day_4_after_deferrals_is_sent(store, renderer):
    handler = Inbox(faults=[Fault("RCPT", "451 4.2.0 busy", times=1)])
    controller = start_smtp(handler)
    try:
        _owe(store)
        settings = settings_for(controller.port, people=[ALICE])
        slow = RetryPolicy(base=3600.0, linger=0.0)
        first = asyncio.run(_send(settings, store, renderer, T0, slow))
        later = asyncio.run(_send(settings, store, renderer, T0 + timedelta(days=4), slow))
    finally:
        controller.stop()
    assert (first.emails, len(first.deferred), later.emails) == (0, 1, 1)
    assert states(store) == {ALICE: {"sent": 1}}


async def _send(settings, store, renderer, now, policy):
    transport = make_transport(settings.mail, {})
    try:
        return await send(settings, store, [transport], renderer, now, policy=policy)
    finally:
        await transport.close()


# --- item 13: a full disk leaves no partial file in the Maildir ---------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A real 64 KB tmpfs (needs root, or CAP_SYS_ADMIN); unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 64 KB tmpfs to fill a disk needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def _fill(disk: Path, leave: int) -> Path:
    """Fill `disk` up, then free `leave` bytes: the next small write fails half-way."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    os.truncate(filler, filler.stat().st_size - leave)
    return filler


@pytest.mark.parametrize("size", [6_000, 40_000], ids=["buffered", "unbuffered"])
def test_a_full_disk_leaves_no_partial_file_in_the_maildir(tiny_disk: Path, size: int):
    folder = tiny_disk / "mail"
    transport = MaildirTransport(folder)
    asyncio.run(transport.probe())  # the folders exist
    filler = _fill(tiny_disk, 4096)
    data = b"Subject: big\r\n\r\n" + b"x" * size + b"\r\n"
    with pytest.raises(TemporarySendError) as failed:
        asyncio.run(transport.send("a@example.org", ALICE, data))
    assert "No space left on device" in str(failed.value)
    assert list((folder / "tmp").iterdir()) == []  # before the fix: a 4 KB partial file
    assert list((folder / "new").iterdir()) == []
    filler.unlink()  # the disk has room again: the same message goes through
    asyncio.run(transport.send("a@example.org", ALICE, data))
    written = [p.read_bytes() for p in (folder / "new").iterdir()]
    assert written == [data.replace(b"\r\n", b"\n")]
    assert list((folder / "tmp").iterdir()) == []


# --- item 2, second half: SIGTERM while the server is still answering the final dot -----------

DAEMON_PAGE = FIXTURES / "pages" / "000_14d685580f9831a7.txt"
REPLY_AFTER = 8.5  # longer than the daemon's 7 s grace for other jobs


def _queued_then_slow() -> Inbox:
    """Queues each message at once, then answers 250 only after REPLY_AFTER seconds."""
    return Inbox([Fault("DATA", "slow", times=-1, delay=REPLY_AFTER)])


def _outbox_states(folder: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(folder / "bot.db") as db:
        return db.execute("select state, count(*) from outbox group by state").fetchall()


def test_sigterm_while_the_final_reply_is_awaited_lets_it_arrive_and_records_it(tmp_path: Path):
    with http_site() as site, smtp_server(_queued_then_slow()) as (inbox, port):
        url = site.put("/papers", DAEMON_PAGE.read_bytes())
        config = page_settings(tmp_path, url, port, ["alice@example.org"])
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: inbox.started == 1, 20), daemon.log()
            time.sleep(0.5)  # the final dot is sent: the reply is being awaited
            began = time.monotonic()
            assert daemon.stop(signal.SIGTERM, timeout=30) == 0
            took = time.monotonic() - began
            log = daemon.log()
        assert took < REPLY_AFTER + 5
        assert "Traceback" not in log and "CancelledError" not in log, log
        assert _outbox_states(tmp_path) == [("sent", 1)]  # before the fix: pending, sent again
        again = run_bot("--config", str(config), "send", "--all", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert len(inbox.received) == 1


def test_sigterm_to_bot_send_finishes_the_email_in_flight_without_a_traceback(tmp_path: Path):
    with smtp_server(_queued_then_slow()) as (inbox, port):
        config = _settings_file(tmp_path, port, 2)
        with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
            _owe(store)
        with open(tmp_path / "err.txt", "w+", encoding="utf-8") as err:
            proc = subprocess.Popen(
                [*bot_command(), "--config", str(config), "send", "--all"],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
            try:
                assert wait_until(lambda: inbox.started == 1, 20)
                time.sleep(0.5)
                proc.send_signal(signal.SIGTERM)
                out, _ = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
            err.seek(0)
            stderr = err.read()
        assert "Traceback" not in stderr, stderr
        assert out.strip() == "1 email sent with 1 paper", (out, stderr)
        assert _outbox_states(tmp_path) == [("sent", 1)]
        again = run_bot("--config", str(config), "send", "--all", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert len(inbox.received) == 1

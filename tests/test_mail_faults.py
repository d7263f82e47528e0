"""Hostile and odd mail servers (issue 11): size refusals, a slow final reply, escape sequences
in replies, old deferred emails, a full disk under the Maildir. Real aiosmtpd servers on loopback.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from support import parse, run_bot, titles_in
from test_sender import (
    PEOPLE,
    T0,
    FakeMTA,
    Fault,
    run,
    settings_for,
    start,
    states,
)

from bot import identity
from bot.compose import compose
from bot.models import Paper
from bot.store import Store

ALICE = PEOPLE[0]
INNOCENT = [f"Innocent study {word}" for word in "ABCDEFGHI"]
BIG = "The enormous study"


class Keeper(FakeMTA):
    """FakeMTA that also keeps the bytes of each message it queues; refuses above `limit` bytes
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


def _owe_ten(store: Store) -> list[Paper]:
    """Nine ordinary papers and one with a huge abstract, all owed to ALICE."""
    store.ensure_subscribers([ALICE], T0 - timedelta(days=1))
    papers = [_paper(t, "A paper about a method. " * 40, n) for n, t in enumerate(INNOCENT)]
    papers.append(_paper(BIG, "A paper about everything, at length. " * 8000, 99))
    store.record(papers, T0, lambda new: [(ALICE, p.id, ("paper",)) for p in new])
    return papers


def _size(settings, store, renderer, titles: list[str]) -> int:
    [subscriber] = settings.subscribers
    chosen = [d for d in store.pending(ALICE) if d.paper.title in titles]
    return len(compose(settings, subscriber, chosen, renderer, T0).data)


@pytest.fixture(scope="module")
def renderer():
    from bot.render import Renderer

    return Renderer()


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'bot.db'}") as opened:
        yield opened


# --- item 1: a size refusal splits the email ---------------------------------------------------


@pytest.mark.parametrize("where", ["size-at-mail", "552-at-data", "5.3.4-at-data"], ids=lambda w: w)
def test_a_size_refusal_splits_the_email_and_only_the_too_big_paper_fails(store, renderer, where):
    _owe_ten(store)
    probe = settings_for(1, people=[ALICE])
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
    controller = start(handler, **extra)
    try:
        report = run(settings_for(controller.port, people=[ALICE]), store, renderer)
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
    handler = FakeMTA(faults=[Fault("DATA", "slow", delay=1.5, times=-1)])
    controller = start(handler)
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
    controller = start(handler)
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


class _SilentAtMail(FakeMTA):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 3)
        return await super().handle_MAIL(server, session, envelope, address, options)


def _owe(store: Store) -> None:
    store.ensure_subscribers([ALICE], T0 - timedelta(days=1))
    paper = _paper("A paper", "An abstract about a paper.", 1)
    store.record([paper], T0, lambda new: [(ALICE, p.id, ("paper",)) for p in new])


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
    handler = FakeMTA(faults=[Fault("DATA", "slow", delay=2.5, times=-1)])
    controller = start(handler)
    try:
        config = _settings_file(tmp_path, controller.port, 1)
        with Store.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
            _owe(store)
        results = [run_bot("--config", str(config), "send", cwd=tmp_path) for _ in range(3)]
    finally:
        controller.stop()
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    assert results[0].stdout.strip() == "1 emails sent with 1 papers"
    assert handler.counts() == Counter({ALICE: 1})
    assert len({mid for _, mid in handler.accepted}) == 1

"""Issue 14: the sender keeps its connections busy. Emails go out while the rest are still being
composed, over `concurrency` connections fed from one queue of claimed rows; an email is recorded
sent off the connection's path, yet before the next email on that connection can be accepted.
Real aiosmtpd servers on loopback; the ledger is read with plain SQL while mail arrives.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from support import Fault, Inbox, start_smtp
from support.sending import T0, owe, run, settings_for, states

from bot.ledger import Ledger, new_owner
from bot.mail.render import Renderer

_MESSAGE_ID = re.compile(rb"^Message-ID: *(\S+)", re.M | re.I)


def _rows(store: Ledger, sql: str, **params) -> list:
    with store.database.read() as conn:
        return conn.execute(text(sql), params).all()


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


class Watcher(Inbox):
    """An Inbox that reads the ledger as mail arrives: how many emails the outbox held at each
    MAIL, and, at the end of each message's DATA (before the 250), which earlier messages of the
    same connection the ledger did not yet have as sent."""

    def __init__(self, store: Ledger, faults: list[Fault] | None = None) -> None:
        super().__init__(faults)
        self.store = store
        self.outbox_at_mail: list[int] = []
        self.unrecorded: list[str] = []  # Message-IDs accepted earlier, not sent in the ledger
        self.accepted_on: dict[int, list[str]] = {}  # id(session) -> Message-IDs accepted

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        self.outbox_at_mail.append(_rows(self.store, "SELECT count(*) FROM outbox")[0][0])
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        earlier = self.accepted_on.setdefault(id(session), [])
        for message_id in earlier:
            [(state,)] = _rows(
                self.store, "SELECT state FROM outbox WHERE message_id = :m", m=message_id
            )
            if state != "sent":
                self.unrecorded.append(message_id)
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            raw = envelope.original_content or envelope.content
            earlier.append(_MESSAGE_ID.search(raw).group(1).decode())
        return reply


def test_the_first_email_goes_out_while_the_others_are_still_being_composed(
    tmp_path: Path, renderer: Renderer
):
    people = [f"r{i:02d}@example.org" for i in range(30)]
    with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
        owe(store, people=people, each=6)
        handler = Watcher(store)
        controller = start_smtp(handler)
        try:
            report = run(settings_for(controller.port, people=people), store, renderer)
        finally:
            controller.stop()
        assert report.emails == 30
        assert handler.counts() == Counter(dict.fromkeys(people, 1))
        assert states(store) == {email: {"sent": 6} for email in people}
    # Composing all 30 took 30 renders; the first email reached the server long before the last
    # was stored (before issue 14 it left only once all 30 were in the outbox).
    assert handler.outbox_at_mail[0] < 30


class SlowLedger(Watcher):
    """A Watcher that, as it accepts each message, holds the ledger's write lock for `hold`
    seconds from another connection (another process writing): the sender's commit of that
    email as sent waits for it."""

    def __init__(self, store: Ledger, path: Path, hold: float) -> None:
        super().__init__(store)
        self.path, self.hold, self.held = path, hold, 0
        self.holding = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        if self.holding.acquire(blocking=False):
            holder = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            holder.execute("PRAGMA busy_timeout = 5000")
            holder.execute("BEGIN IMMEDIATE")
            self.held += 1

            def release() -> None:
                holder.rollback()
                holder.close()
                self.holding.release()

            threading.Timer(self.hold, release).start()
        return reply


def test_an_email_is_recorded_sent_before_the_next_on_its_connection_is_accepted(
    tmp_path: Path, renderer: Renderer
):
    # The commit of an email as sent runs while its connection goes on with the next email; that
    # email's content must wait for it, or a kill could repeat two emails of one connection.
    people = [f"s{i:02d}@example.org" for i in range(12)]
    path = tmp_path / "bot.db"
    with Ledger.open(f"sqlite:///{path}") as store:
        owe(store, people=people)
        handler = SlowLedger(store, path, hold=0.3)
        controller = start_smtp(handler)
        try:
            report = run(
                settings_for(controller.port, people=people, concurrency=2), store, renderer
            )
        finally:
            controller.stop()
        assert states(store) == {email: {"sent": 1} for email in people}
    assert report.emails == 12
    assert handler.counts() == Counter(dict.fromkeys(people, 1))
    assert handler.held >= 3  # the lock was in the way several times
    assert handler.unrecorded == []


def test_four_connections_with_refusals_a_retry_and_a_split_deliver_each_paper_once(
    database_url: str, renderer: Renderer
):
    people = [f"q{i:02d}@example.org" for i in range(40)]
    refused, retried, too_big = people[5], people[17], people[29]
    faults = [
        Fault("RCPT", "550 5.1.1 no such user", who=refused, times=-1),
        Fault("RCPT", "451 4.2.0 greylisted", who=retried, times=1),
        Fault("DATA", "552 5.3.4 message too big", who=too_big, times=1),
    ]
    with Ledger.open(database_url) as store:
        owe(store, people=people, each=2)
        handler = Watcher(store, faults)
        controller = start_smtp(handler)
        try:
            settings = settings_for(controller.port, people=people, concurrency=4)
            report = run(settings, store, renderer)
        finally:
            controller.stop()
        expected = {email: {"sent": 2} for email in people} | {refused: {"failed": 2}}
        assert states(store) == expected
    assert handler.counts() == Counter({e: 1 for e in people if e != refused} | {too_big: 2})
    assert report.emails == 40 and report.papers == 78 and report.stopped is None
    assert report.deferred == []
    assert report.failed == [f"{refused}: refused: 550 5.1.1 no such user"]
    assert handler.unrecorded == []  # no email accepted while the one before it was unrecorded


def test_a_claim_that_drops_a_stopped_address_still_takes_as_many_as_it_asked(tmp_path: Path):
    # The feeder reads a short claim as "nothing more is due now". A row of an address stopped
    # while a dead process held it is dropped at claim time; the claim then takes the next one.
    people = [f"d{i:02d}@example.org" for i in range(10)]
    with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
        owe(store, people=people)
        for n, email in enumerate(people):
            [owed] = store.deliveries.pending(email)
            store.outbox.add_email(email, [owed.paper.id], f"<m{n}@example.org>", b"x\r\n", T0)
        host = new_owner().split(":")[0]  # this host and pid namespace
        dead = f"{host}:{2**22 + 1}:p:dead"  # pid 2**22+1 cannot exist
        lease = timedelta(minutes=15)
        assert [r.email for r in store.outbox.claim_due(dead, T0, lease, 1)] == people[:1]
        assert store.recipients.unsubscribe(people[0], T0, "link")  # leaves its sending row
        taken = store.outbox.claim_due(new_owner(), T0, lease, 8)
        assert [r.email for r in taken] == people[1:9]
        assert states(store)[people[0]] == {"dropped": 1}

"""bot.mail.send against a scripted aiosmtpd server: a test per fault (RELIABILITY 2.1, S1-S10, K4).

Each test asserts what the server received: every expected email exactly once (after-the-dot drop:
at most one duplicate), and what the ledger says afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from ledger_sql import outbox_ids, outbox_row, pending_count
from support import Fault, Inbox, Passwords, free_port, parse, run_bot, start_smtp
from support.sending import FAST, PEOPLE, T0, owe, run, send_once, settings_for, states

from bot import identity
from bot.errors import TemporarySendError
from bot.ledger import Ledger
from bot.ledger.claims import new_owner
from bot.mail.render import Renderer, bundled_templates
from bot.mail.send import send
from bot.mail.transports import SmtpTransport, make_transport
from bot.models import Paper


@pytest.fixture
def mta():
    handler = Inbox()
    controller = start_smtp(handler)
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.fixture
def store(tmp_path: Path):
    with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as opened:
        yield opened


def everyone_once(handler: Inbox, people=PEOPLE) -> None:
    assert handler.counts() == Counter({email: 1 for email in people})


# --- the happy path ---------------------------------------------------------------------------


def test_every_email_goes_out_once_over_reused_connections(mta, store, renderer):
    handler, port = mta
    owe(store)
    settings = settings_for(port, concurrency=3)
    pool = [SmtpTransport(settings.mail, None) for _ in range(3)]
    report = run(settings, store, renderer, transports=pool)
    assert (report.emails, report.papers, report.deferred, report.failed) == (6, 6, [], [])
    everyone_once(handler)
    assert handler.ehlos <= 3  # one session per connection, reused
    assert states(store) == {email: {"sent": 1} for email in PEOPLE}
    # Nothing owed: a second run sends nothing.
    assert run(settings, store, renderer).emails == 0
    everyone_once(handler)


def test_sent_bytes_are_the_stored_bytes_and_parse_back(mta, store, renderer):
    handler, port = mta
    owe(store, people=PEOPLE[:1], each=3)
    run(settings_for(port, people=PEOPLE[:1]), store, renderer)
    [(rcpt, mid)] = handler.accepted
    row = outbox_row(store, 1)
    assert (row["state"], row["message_id"], row["attempts"]) == ("sent", mid, 1)
    msg = parse(row["data"])
    assert msg["Message-ID"] == mid
    assert msg["Subject"] == "3 new papers: paper"


def test_max_items_shows_cards_and_lists_the_rest_in_the_same_email(mta, store, renderer):
    handler, port = mta
    owe(store, people=PEOPLE[:1], each=5)
    settings = settings_for(port, people=PEOPLE[:1], max_items=2)
    for hour in range(2):
        run(settings, store, renderer, now=T0 + timedelta(hours=hour))
    assert handler.counts() == Counter({PEOPLE[0]: 1})
    msg = parse(outbox_row(store, 1)["data"])
    text = msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert msg["Subject"] == "5 new papers: paper"
    assert "the best 2 in full, the\nother 3 listed at the end." in text
    cards, listed = text.split("Also new, one line each:")
    assert sum(f"*Paper* number {n}\n" in cards for n in range(5)) == 2
    for n in range(5):
        if f"*Paper* number {n}\n" not in cards:
            assert f". Paper number {n}\n    https://arxiv.org/abs/2511.{n:05d}\n" in listed
    assert "next email" not in text
    assert states(store) == {PEOPLE[0]: {"sent": 5}}


def test_a_period_makes_one_email_per_subscriber_and_period(mta, store, renderer):
    handler, port = mta
    owe(store, people=PEOPLE[:2])
    settings = settings_for(port, people=PEOPLE[:2])
    daily = lambda s: "daily:2026-11-22"  # noqa: E731
    report = run(settings, store, renderer, emails=[PEOPLE[0]], period=daily)
    assert report.emails == 1
    assert store.outbox.has_digest(PEOPLE[0], "daily:2026-11-22")
    assert not store.outbox.has_digest(PEOPLE[1], "daily:2026-11-22")
    assert store.outbox.last_periods()[PEOPLE[0]] == "daily:2026-11-22"
    owe(store, people=PEOPLE[:1], start=100, now=T0 + timedelta(hours=1))
    again = run(settings, store, renderer, now=T0 + timedelta(hours=2), emails=[PEOPLE[0]],
                period=daily)  # fmt: skip
    assert again.emails == 0  # that period's digest exists: the new paper waits for the next
    assert handler.counts() == Counter({PEOPLE[0]: 1})
    assert pending_count(store, PEOPLE[0]) == 1


# --- faults -----------------------------------------------------------------------------------


def test_a_locked_ledger_does_not_stall_the_event_loop(mta, store, renderer, tmp_path):
    # Another process holds SQLite's write lock for 2 s: the sender's commits wait for it, off
    # the event loop, so the loop (other SMTP workers, a signal) keeps running meanwhile.
    handler, port = mta
    owe(store, people=PEOPLE[:2])
    settings = settings_for(port, people=PEOPLE[:2])
    holder = sqlite3.connect(tmp_path / "bot.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(2.0, holder.rollback)
    gaps: list[float] = []

    async def go():
        async def heartbeat():
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                gaps.append(time.monotonic() - last)
                last = time.monotonic()

        beat = asyncio.ensure_future(heartbeat())
        try:
            return await send_once(settings, store, renderer)
        finally:
            beat.cancel()

    release.start()
    try:
        report = asyncio.run(go())
    finally:
        release.join()
        holder.close()
    assert report.emails == 2
    everyone_once(handler, PEOPLE[:2])
    assert sum(gaps) >= 1.9  # the run did wait for the lock...
    assert max(gaps) < 1.0  # ...without stopping the loop


def test_s1_server_down_then_up(store, renderer, caplog):
    caplog.set_level(logging.WARNING, logger="bot.mail.send")
    port = free_port()
    owe(store)
    settings = settings_for(port, concurrency=2)
    pool = [SmtpTransport(settings.mail, None) for _ in range(2)]
    down = run(settings, store, renderer, transports=pool)
    assert down.emails == 0 and down.stopped == "3 failures in a row; the rest stays pending"
    assert [r.levelname for r in caplog.records].count("ERROR") == 1
    assert states(store) == {email: {"pending": 1} for email in PEOPLE}
    handler = Inbox()
    controller = start_smtp(handler, port=port)
    try:
        up = run(settings, store, renderer, now=T0 + timedelta(minutes=5))
    finally:
        controller.stop()
    assert up.emails == 6 and up.stopped is None
    everyone_once(handler)


def test_s2_421_at_greeting_then_a_later_run_delivers(store, renderer):
    owe(store, people=PEOPLE[:2])
    settings = settings_for(free_port(), people=PEOPLE[:2])

    async def busy_then_send():
        async def greet_421(reader, writer):
            writer.write(b"421 4.3.2 too busy, try later\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(greet_421, "127.0.0.1", settings.mail.port)
        try:
            return await send_once(settings, store, renderer)
        finally:
            server.close()
            await server.wait_closed()

    report = asyncio.run(busy_then_send())
    assert report.emails == 0
    assert any("421 4.3.2 too busy" in line for line in report.deferred)
    handler = Inbox()
    controller = start_smtp(handler, port=settings.mail.port)
    try:
        run(settings, store, renderer, now=T0 + timedelta(minutes=5))
    finally:
        controller.stop()
    everyone_once(handler, PEOPLE[:2])


def test_s2_421_after_mail_is_retried_in_the_run(mta, store, renderer):
    handler, port = mta
    handler.faults.append(Fault("MAIL", "421 4.7.0 slow down", times=1))
    owe(store, people=PEOPLE[:2])
    report = run(settings_for(port, people=PEOPLE[:2]), store, renderer)
    assert (report.emails, report.deferred) == (2, [])
    everyone_once(handler, PEOPLE[:2])


@pytest.mark.parametrize(
    "fault",
    [
        Fault("RCPT", "451 4.3.0 greylisted, come back later", who=PEOPLE[1]),
        Fault("DATA", "451 4.3.0 local error in processing", who=PEOPLE[1]),
        Fault("DATA", "452 4.3.1 insufficient storage", who=PEOPLE[1]),
    ],
    ids=["rcpt-451", "data-451", "data-452"],
)
def test_s3_4xx_for_one_recipient_is_retried_and_the_others_are_sent(mta, store, renderer, fault):
    handler, port = mta
    handler.faults.append(fault)
    owe(store)
    report = run(settings_for(port), store, renderer)
    assert (report.emails, report.deferred, report.failed) == (6, [], [])
    everyone_once(handler)
    attempts = {
        outbox_row(store, i)["email"]: outbox_row(store, i)["attempts"] for i in range(1, 7)
    }
    assert attempts == {email: 2 if email == PEOPLE[1] else 1 for email in PEOPLE}


def test_a_4xx_that_lasts_is_left_pending_for_a_later_run(mta, store, renderer):
    handler, port = mta
    handler.faults.append(Fault("RCPT", "451 4.3.0 try later", who=PEOPLE[1], times=-1))
    owe(store)
    report = run(settings_for(port), store, renderer)
    assert report.emails == 5
    assert report.deferred == [
        f"{PEOPLE[1]}: mail server 127.0.0.1:{port} refused recipient {PEOPLE[1]}: "
        "451 4.3.0 try later"
    ]
    row = next(
        outbox_row(store, i) for i in range(1, 7) if outbox_row(store, i)["email"] == PEOPLE[1]
    )
    assert row["state"] == "pending" and row["attempts"] >= 2 and row["next_attempt"] is not None
    handler.faults.clear()
    run(settings_for(port), store, renderer, now=T0 + timedelta(hours=1))
    everyone_once(handler)


def test_s4_550_for_one_recipient_is_failed_with_the_reply_and_never_retried(mta, store, renderer):
    handler, port = mta
    handler.faults.append(Fault("RCPT", "550 5.1.1 no such user", who=PEOPLE[2], times=-1))
    owe(store)
    report = run(settings_for(port), store, renderer)
    assert report.failed == [f"{PEOPLE[2]}: refused: 550 5.1.1 no such user"]
    assert handler.counts() == Counter({e: 1 for e in PEOPLE if e != PEOPLE[2]})
    owe(store, people=PEOPLE[:1], start=50, now=T0 + timedelta(hours=1))
    run(settings_for(port), store, renderer, now=T0 + timedelta(hours=2))
    assert handler.rcpts[PEOPLE[2]] == 1  # refused for good: never tried again
    status = store.status()
    assert status.deliveries[PEOPLE[2]]["failed"] == 1
    assert status.errors[PEOPLE[2]][1] == "550 5.1.1 no such user"


def test_s6a_connection_dropped_mid_data_is_resent_once(store, renderer):
    handler = Inbox()
    controller = start_smtp(handler)
    owe(store, people=PEOPLE[:3])
    settings = settings_for(free_port(), people=PEOPLE[:3])
    drops = []

    async def proxied():
        # A TCP proxy that cuts the first DATA transfer after 200 bytes of the body.
        async def relay(reader, writer):
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", controller.port)

            async def pump(src, dst, watch):
                seen, body = b"", None
                try:
                    while data := await src.read(4096):
                        if watch:
                            seen += data
                            if body is None and b"\r\nDATA\r\n" in b"\r\n" + seen and not drops:
                                body = 0
                            if body is not None:
                                body += len(data)
                                if body > 200 and not drops:
                                    drops.append(1)
                                    break
                        dst.write(data)
                        await dst.drain()
                finally:
                    dst.close()
                    src_writer = writer if watch else up_writer
                    src_writer.close()

            await asyncio.gather(
                pump(reader, up_writer, True), pump(up_reader, writer, False),
                return_exceptions=True,
            )  # fmt: skip

        server = await asyncio.start_server(relay, "127.0.0.1", settings.mail.port)
        try:
            return await send_once(settings, store, renderer)
        finally:
            server.close()

    try:
        report = asyncio.run(proxied())
    finally:
        controller.stop()
    assert drops == [1]
    assert report.emails == 3 and report.deferred == []
    everyone_once(handler, PEOPLE[:3])  # the cut message was never queued: no duplicate


def test_s6_drop_after_the_final_dot_resends_the_same_message_at_most_once(mta, store, renderer):
    handler, port = mta
    handler.faults.append(Fault("DATA", "drop", who=PEOPLE[0]))
    owe(store, people=PEOPLE[:3])
    report = run(settings_for(port, people=PEOPLE[:3]), store, renderer)
    assert report.emails == 3
    assert handler.counts() == Counter({PEOPLE[0]: 2, PEOPLE[1]: 1, PEOPLE[2]: 1})
    [first, second] = [mid for rcpt, mid in handler.accepted if rcpt == PEOPLE[0]]
    assert first == second  # the duplicate carries the same Message-ID


def test_s7_reply_slower_than_the_command_timeout_is_awaited_and_sent_once(mta, store, renderer):
    # RFC 5321 4.5.3.2.6: the reply to the final dot is awaited 10 minutes, not mail.timeout.
    handler, port = mta
    handler.faults.append(Fault("DATA", "slow", who=PEOPLE[1], delay=1.5))
    owe(store, people=PEOPLE[:2])
    report = run(settings_for(port, people=PEOPLE[:2], timeout=0.5), store, renderer)
    assert report.emails == 2
    assert handler.counts() == Counter({PEOPLE[0]: 1, PEOPLE[1]: 1})


def test_s8_the_breaker_stops_after_consecutive_permanent_refusals(mta, store, renderer):
    handler, port = mta
    handler.faults.append(Fault("DATA", "554 5.7.1 blocked", times=-1))
    owe(store)
    report = run(settings_for(port), store, renderer)
    assert report.stopped == "3 failures in a row; the rest stays pending"
    assert len(report.failed) == 3
    assert sum(c.get("pending", 0) for c in states(store).values()) == 3


def test_s9_535_login_refused_stops_the_run_and_changes_no_delivery(store, renderer):
    handler, passwords = Inbox(), Passwords()
    controller = start_smtp(handler, authenticator=passwords, auth_require_tls=False)
    try:
        owe(store)
        mail = {"username": "digest", "password_env": "PW"}
        settings = settings_for(controller.port, **mail)
        transport = make_transport(settings.mail, {"PW": "wrong"})
        report = run(settings, store, renderer, transports=[transport])
    finally:
        controller.stop()
    assert report.stopped == "3 failures in a row; the rest stays pending"
    assert all("refused the login as 'digest' (535" in line for line in report.deferred)
    assert all("wrong" not in line for line in report.deferred)
    assert handler.accepted == []
    assert states(store) == {email: {"pending": 1} for email in PEOPLE}


def test_s10_no_starttls_offered_while_credentials_are_set_sends_nothing(store, renderer):
    handler, passwords = Inbox(), Passwords()
    controller = start_smtp(handler, authenticator=passwords, auth_require_tls=False)
    try:
        owe(store, people=PEOPLE[:2])
        mail = {"security": "starttls", "username": "digest", "password_env": "PW"}
        settings = settings_for(controller.port, people=PEOPLE[:2], **mail)
        transport = make_transport(settings.mail, {"PW": "hunter2"})
        report = run(settings, store, renderer, transports=[transport])
    finally:
        controller.stop()
    assert report.emails == 0 and all("STARTTLS" in line for line in report.deferred)
    assert passwords.tried == []  # AUTH never went out in clear
    assert handler.accepted == []


# --- emails that cannot be built (RELIABILITY K4) -----------------------------------------------


def poison_templates(folder: Path, everyone: bool = False) -> Path:
    """Bundled templates, except that the text part fails for a paper titled "POISON …"."""
    text = (bundled_templates() / "digest.txt.j2").read_text(encoding="utf-8")
    test = "true" if everyone else '"POISON" in item.title'
    trap = f"{{% for item in items %}}{{% if {test} %}}{{{{ item.no_such_field }}}}{{% endif %}}"
    (folder / "digest.txt.j2").write_text(trap + "{% endfor %}" + text, encoding="utf-8")
    return folder


def test_k4_a_poison_paper_is_quarantined_after_3_attempts_and_the_rest_go_out(
    mta, store, renderer, tmp_path
):
    handler, port = mta
    owe(store, people=PEOPLE[:3])
    poison = identity.identify(Paper(title="POISON pill", url="https://arxiv.org/abs/2511.09999"))
    store.papers.record([poison], T0, lambda new: [(PEOPLE[0], poison.id, ("paper",))])
    settings = settings_for(port, people=PEOPLE[:3])
    trapped = Renderer(poison_templates(tmp_path))
    reports = [run(settings, store, trapped, now=T0 + timedelta(hours=h)) for h in range(4)]
    everyone_once(handler, PEOPLE[:3])  # the poison paper's subscriber got the other paper
    assert [len(r.quarantined) for r in reports] == [0, 0, 1, 0]
    error = f"template {tmp_path / 'digest.txt.j2'}: 'dict object' has no attribute 'no_such_field'"
    assert reports[2].quarantined == [f"{PEOPLE[0]}: paper {poison.id} quarantined: {error}"]
    assert reports[3].failed == []  # no crash loop once quarantined
    status = store.status()
    assert status.deliveries[PEOPLE[0]]["quarantined"] == 1
    assert status.errors[PEOPLE[0]][1] == error


@pytest.mark.parametrize("count", [1, 3])
def test_templates_broken_for_everyone_quarantine_nothing(mta, store, renderer, tmp_path, count):
    handler, port = mta
    people = PEOPLE[:count]
    owe(store, people=people)
    broken = Renderer(poison_templates(tmp_path, everyone=True))
    error = f"template {tmp_path / 'digest.txt.j2'}: 'dict object' has no attribute 'no_such_field'"
    for hour in range(4):
        report = run(
            settings_for(port, people=people), store, broken, now=T0 + timedelta(hours=hour)
        )
        assert report.failed == [f"{email}: cannot build the email: {error}" for email in people]
        assert report.quarantined == []
    assert states(store) == {email: {"pending": 1} for email in people}
    # The template fixed, every paper goes out: nothing was lost to quarantine.
    run(settings_for(port, people=people), store, renderer, now=T0 + timedelta(hours=5))
    everyone_once(handler, people)


def test_a_template_broken_only_for_a_long_digest_quarantines_nothing(
    mta, store, renderer, tmp_path
):
    handler, port = mta
    owe(store, people=PEOPLE[:1], each=3)
    text = (bundled_templates() / "digest.txt.j2").read_text(encoding="utf-8")
    trap = "{% if listed %}{{ items.no_such_field.x }}{% endif %}"
    (tmp_path / "digest.txt.j2").write_text(trap + text, encoding="utf-8")
    settings = settings_for(port, people=PEOPLE[:1], max_items=2)
    for hour in range(4):
        report = run(settings, store, Renderer(tmp_path), now=T0 + timedelta(hours=hour))
        assert report.quarantined == [] and len(report.failed) == 1, report
    assert states(store) == {PEOPLE[0]: {"pending": 3}}
    run(settings, store, renderer, now=T0 + timedelta(hours=5))
    run(settings, store, renderer, now=T0 + timedelta(hours=6))
    assert handler.counts() == Counter({PEOPLE[0]: 1})  # all three in one email, 2 cards + 1 line
    assert states(store) == {PEOPLE[0]: {"sent": 3}}


# --- crash recovery and sharing --------------------------------------------------------------


def test_a_slow_server_never_lets_a_second_sender_take_an_email_being_sent(mta, store, renderer):
    # The lease is taken per batch of claimed emails; with a server slower than the lease, rows
    # still waiting in the first sender's batch become claimable by a second sender.
    handler, port = mta
    handler.faults.append(Fault("DATA", "slow", delay=0.3, times=-1))
    people = PEOPLE
    owe(store, people=people)
    settings = settings_for(port, people=people, timeout=5.0)
    policy = replace(FAST, lease=1.0, linger=0)

    async def sender(delay: float):
        await asyncio.sleep(delay)
        return await send_once(
            settings, store, renderer, now=T0 + timedelta(seconds=delay), policy=policy
        )

    async def both():
        return await asyncio.gather(sender(0), sender(1.2))

    first, second = asyncio.run(both())
    assert first.emails + second.emails == len(people) and second.emails > 0
    everyone_once(handler, people)


def test_an_email_left_sending_by_a_dead_process_is_resent_with_the_same_bytes(
    mta, store, renderer
):
    handler, port = mta
    owe(store, people=PEOPLE[:2])
    settings = settings_for(port, people=PEOPLE[:2])
    # Fill the outbox without delivering (the server is "down"), then play a process that claimed
    # a row and died (pid 2**22+1 cannot exist), and one that is alive (pid 1) and holds its lease.
    assert run(settings, store, renderer, transports=[_Down()]).emails == 0
    later = T0 + timedelta(minutes=1)
    ids = outbox_ids(store, "pending")  # due at once: no retry time is set
    assert len(ids) == 2
    lease = timedelta(minutes=15)
    host = new_owner().split(":")[0]  # this host and pid namespace
    dead, alive = f"{host}:{2**22 + 1}:p:dead", f"{host}:1:p:alive"
    assert [row.id for row in store.outbox.claim_due(alive, later, lease, 1)] == ids[:1]
    assert [row.id for row in store.outbox.claim_due(dead, later, lease, 1)] == ids[1:]
    data = outbox_row(store, ids[1])["data"]
    run(settings, store, renderer, now=later + timedelta(minutes=1))
    [(rcpt, mid)] = handler.accepted
    assert (rcpt, mid) == (outbox_row(store, ids[1])["email"], parse(data)["Message-ID"])
    assert outbox_row(store, ids[1])["data"] == data
    assert outbox_row(store, ids[0])["state"] == "sending"  # its lease still holds
    run(settings, store, renderer, now=later + timedelta(minutes=20))  # lease over: taken over
    everyone_once(handler, PEOPLE[:2])


def test_only_the_subscribers_named_in_compose_get_a_new_email(mta, store, renderer):
    # A daemon that does not lead, or a retry-only run, sends what waits and composes nothing.
    handler, port = mta
    owe(store, people=PEOPLE[:2])
    settings = settings_for(port, people=PEOPLE[:2])
    assert run(settings, store, renderer, compose=()).emails == 0
    assert store.outbox.open_emails() == set()
    assert run(settings, store, renderer, compose=[PEOPLE[1]]).emails == 1
    everyone_once(handler, PEOPLE[1:2])
    assert states(store)[PEOPLE[0]] == {"pending": 1}


def test_a_pid_in_another_pid_namespace_is_never_taken_for_dead(mta, store, renderer):
    # Two containers may share a hostname; a pid of the other one means nothing here.
    handler, port = mta
    owe(store, people=PEOPLE[:1])
    settings = settings_for(port, people=PEOPLE[:1])
    assert run(settings, store, renderer, transports=[_Down()]).emails == 0
    later = T0 + timedelta(minutes=1)
    stranger = f"{socket.gethostname()}/other-namespace:{2**22 + 1}:p:x"
    lease = timedelta(minutes=15)
    [claimed] = store.outbox.claim_due(stranger, later, lease, 1)
    assert store.outbox.claim_due("me", later + timedelta(minutes=1), lease, 1) == []
    taken = store.outbox.claim_due(
        "me", later + timedelta(minutes=16), lease, 1
    )  # its lease ran out
    assert [row.id for row in taken] == [claimed.id]


def test_two_senders_sharing_one_ledger_send_each_email_once(database_url, renderer):
    handler = Inbox()
    controller = start_smtp(handler)
    people = [f"q{i}@example.org" for i in range(40)]
    settings = settings_for(controller.port, people=people)
    try:
        with Ledger.open(database_url) as first, Ledger.open(database_url) as second:
            owe(first, people=people)

            async def both():
                pools = [[make_transport(settings.mail, {}) for _ in range(2)] for _ in range(2)]
                try:
                    return await asyncio.gather(
                        *(
                            send(settings, s, pool, renderer, T0, policy=FAST)
                            for s, pool in zip((first, second), pools, strict=True)
                        )
                    )
                finally:
                    for transport in pools[0] + pools[1]:
                        await transport.close()

            reports = asyncio.run(both())
    finally:
        controller.stop()
    assert sum(r.emails for r in reports) == 40
    everyone_once(handler, people)


class _Down:
    """A transport whose server is down: every email stays pending."""

    async def send(self, sender, recipient, data):
        raise TemporarySendError("down")

    async def close(self):
        pass


def test_bot_status_shows_counts_and_the_last_error_per_subscriber(mta, tmp_path, renderer):
    handler, port = mta
    handler.faults.append(Fault("RCPT", "550 5.1.1 no such user", who=PEOPLE[1], times=-1))
    with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
        owe(store, people=PEOPLE[:2])
        run(settings_for(port, people=PEOPLE[:2]), store, renderer)
    people = "".join(f'[[subscribers]]\nemail = "{e}"\nkeywords = ["paper"]\n' for e in PEOPLE[:2])
    (tmp_path / "settings.toml").write_text(
        '[bot]\ndatabase = "sqlite:///bot.db"\n'
        '[[sources]]\nname = "a"\ntype = "page"\nurl = "https://example.org/p"\n' + people,
        encoding="utf-8",
    )
    shown = run_bot("status", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"subscriber {PEOPLE[0]}: 0 pending, 1 sent, 0 failed, 0 quarantined" in shown.stdout
    assert f"subscriber {PEOPLE[1]}: 0 pending, 0 sent, 1 failed, 0 quarantined" in shown.stdout
    assert "  last error 2026-11-22T08:00:0" in shown.stdout
    assert shown.stdout.rstrip().endswith(": 550 5.1.1 no such user")
    data = json.loads(run_bot("status", "--json", cwd=tmp_path).stdout)
    [alice, bob] = data["subscribers"]
    assert {k: alice[k] for k in ("email", "deliveries", "emails", "last_error")} == {
        "email": PEOPLE[0],
        "deliveries": {"pending": 0, "sent": 1, "failed": 0, "quarantined": 0},
        "emails": {"sent": 1},
        "last_error": None,
    }
    assert (alice["cadence"], alice["next_retry"], alice["paused"]) == ("daily", None, False)
    assert bob["last_error"]["error"] == "550 5.1.1 no such user"
    assert bob["emails"] == {"failed": 1}

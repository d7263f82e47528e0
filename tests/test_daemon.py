"""`bot run` as operators run it: a subprocess with second-scale polls, a real SMTP server."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import (
    FIXTURES,
    SUBSCRIBERS,
    BotRun,
    Fault,
    Inbox,
    http_site,
    page_papers,
    page_settings,
    run_bot,
    smtp_server,
    titles_in,
    until,
    wait_until,
)

from bot.daemon import Daemon
from bot.ledger import Ledger
from bot.settings.load import load_settings

PAGE = [
    FIXTURES / "pages" / n
    for n in ("000_14d685580f9831a7.txt", "001_895ba66bf99779a7.txt", "003_0b21518f7ee75860.txt")
]
ALICE = "alice@example.org"
BOB = "bob@example.org"


def _titles(path: Path) -> list[tuple[str, str]]:
    return page_papers(path.read_text(encoding="utf-8"))


def _expected(email: str, page: int) -> set[str]:
    """Titles new on page `page` (after the earlier ones) that match `email`'s query."""
    seen = {t for p in PAGE[:page] for t, _ in _titles(p)}
    oracle = SUBSCRIBERS[email][1]
    return {t for t, a in _titles(PAGE[page]) if t not in seen and oracle(t, a)}


def _more_polls(site, path: str, more: int = 2) -> Callable[[], bool]:
    """True once `path` was asked `more` more times than now: the daemon went on polling."""
    target = site.requests.count(path) + more
    return lambda: site.requests.count(path) >= target


def _mail_for(inbox, email: str) -> list:
    return [
        m
        for (rcpts, _), m in zip(inbox.received, inbox.messages(), strict=True)
        if rcpts == [email]
    ]


def _all_titles() -> list[str]:
    return list(dict.fromkeys(t for p in PAGE for t, _ in _titles(p)))


def test_an_instant_subscriber_gets_only_the_new_matches_within_two_polls(tmp_path: Path):
    everything = _all_titles()
    with http_site() as site, smtp_server() as (inbox, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: len(_mail_for(inbox, ALICE)) == 1, 20), daemon.log()
            [first] = _mail_for(inbox, ALICE)
            assert titles_in(first, everything) == _expected(ALICE, 0)
            site.put("/papers", PAGE[1].read_bytes())
            changed = time.monotonic()
            assert wait_until(lambda: len(_mail_for(inbox, ALICE)) == 2, 20), daemon.log()
            assert time.monotonic() - changed < 2 * 1 + 3  # two poll intervals, plus start-up slack
            second = _mail_for(inbox, ALICE)[1]
            assert titles_in(second, everything) == _expected(ALICE, 1)
            assert wait_until(_more_polls(site, "/papers"), 10), daemon.log()
            assert len(inbox.received) == 2  # more polls of the same page send nothing
            assert daemon.stop() == 0


def test_a_subscriber_added_while_running_gets_the_next_matches(tmp_path: Path):
    everything = _all_titles()
    with http_site() as site, smtp_server() as (inbox, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: len(_mail_for(inbox, ALICE)) == 1, 20), daemon.log()
            page_settings(tmp_path, url, port, [ALICE, BOB])  # written in place, as an editor would
            assert wait_until(lambda: "settings=reloaded" in daemon.log(), 10), daemon.log()
            site.put("/papers", PAGE[1].read_bytes())
            assert wait_until(lambda: len(_mail_for(inbox, BOB)) == 1, 20), daemon.log()
            [bob] = _mail_for(inbox, BOB)
            assert titles_in(bob, everything) == _expected(BOB, 1)
            assert daemon.stop() == 0


def test_an_invalid_edit_is_reported_once_and_the_daemon_keeps_sending(tmp_path: Path):
    everything = _all_titles()
    with http_site() as site, smtp_server() as (inbox, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        good = config.read_text(encoding="utf-8")
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: len(_mail_for(inbox, ALICE)) == 1, 20), daemon.log()
            config.write_text("", encoding="utf-8")  # an editor truncating the file mid-save
            assert wait_until(lambda: "settings file is empty" in daemon.log(), 10), daemon.log()
            config.write_text(good + "\n[[subscribers]]\nemail = 'x'\n", encoding="utf-8")
            assert wait_until(lambda: "subscribers[1].email" in daemon.log(), 10), daemon.log()
            assert wait_until(_more_polls(site, "/papers"), 10), daemon.log()  # looked at again
            site.put("/papers", PAGE[1].read_bytes())
            assert wait_until(lambda: len(_mail_for(inbox, ALICE)) == 2, 20), daemon.log()
            assert titles_in(_mail_for(inbox, ALICE)[1], everything) == _expected(ALICE, 1)
            assert daemon.proc.poll() is None
            log = daemon.log()
            assert log.count("settings file is empty") == 1, log
            assert log.count("subscribers[1].email") == 1, log
            assert "settings=ok-again" not in log
            config.write_text(good, encoding="utf-8")  # fixed: back to the settings in use
            assert wait_until(lambda: "settings=ok-again" in daemon.log(), 10), daemon.log()
            assert wait_until(_more_polls(site, "/papers"), 10), daemon.log()
            assert daemon.log().count("settings=ok-again") == 1  # said once
            assert daemon.stop() == 0


def test_sigterm_stops_cleanly_with_nothing_left_sending(tmp_path: Path):
    with http_site() as site, smtp_server() as (inbox, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE, BOB])
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: len(inbox.received) >= 1, 20), daemon.log()
            started = time.monotonic()
            assert daemon.stop(signal.SIGTERM) == 0
            assert time.monotonic() - started < 10
    with sqlite3.connect(tmp_path / "bot.db") as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
        for table in tables:
            columns = {r[1] for r in db.execute(f"pragma table_info({table})")}
            if "state" in columns:
                sending = db.execute(f"select count(*) from {table} where state = 'sending'")
                assert sending.fetchone()[0] == 0, table


def test_a_second_daemon_on_the_same_database_is_refused(tmp_path: Path):
    with http_site() as site, smtp_server() as (_, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        with BotRun(tmp_path, config) as first:
            assert wait_until(lambda: "daemon=started" in first.log(), 20), first.log()
            second = run_bot("--config", str(config), "run", cwd=tmp_path, timeout=30)
            assert second.returncode == 2
            assert second.stderr.splitlines() == [
                f"error: another bot run (pid {first.proc.pid}) is already running on "
                f"sqlite:///{tmp_path / 'bot.db'}; stop it first, or give this one its own database"
            ]
            assert first.stop() == 0
        # the kernel released the lock: a new daemon may start
        with BotRun(tmp_path, config) as third:
            assert wait_until(lambda: "daemon=started" in third.log(), 20), third.log()
            assert third.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_sigint_stops_like_sigterm(tmp_path: Path, sig: int):
    with http_site() as site, smtp_server() as (_, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: "daemon=started" in daemon.log(), 20), daemon.log()
            assert daemon.stop(sig) == 0


def test_a_daily_digest_missed_while_down_comes_once_on_start(tmp_path: Path):
    """Papers queued before today's send_at, daemon down at send_at: one catch-up digest, once.

    The daemon runs in this process on a clock passed in that is two minutes ahead: its send_at
    (the minute after the papers were queued) has passed, with no sleeping to reach it.
    """
    everything = _all_titles()
    with http_site() as site, smtp_server() as (inbox, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        fetched = run_bot("--config", str(config), "fetch", cwd=tmp_path)
        assert fetched.returncode == 0, fetched.stderr
        queued = datetime.now(UTC)  # after every delivery was queued
        send_at = (queued + timedelta(minutes=1)).replace(second=0, microsecond=0)
        text = config.read_text(encoding="utf-8").replace(
            'cadence = "instant"',
            f'cadence = "daily"\nsend_at = "{send_at:%H:%M}"\ntimezone = "UTC"',
        )
        config.write_text(text, encoding="utf-8")
        settings = load_settings(config)

        def later() -> datetime:
            return datetime.now(UTC) + timedelta(minutes=2)

        async def run_until(done: Callable[[], bool]) -> None:
            with Ledger.open(settings.database) as store:
                daemon = Daemon(settings, store, {}, clock=later)
                running = asyncio.create_task(daemon.run())
                try:
                    assert await until(done, 20)
                finally:
                    daemon.stopping.set()
                    assert await asyncio.wait_for(running, 15) == 0

        asyncio.run(run_until(lambda: len(inbox.received) == 1))
        assert titles_in(inbox.messages()[0], everything) == _expected(ALICE, 0)
        # Restarted in the same period: it looks at what is due at once, then polls; nothing more.
        asyncio.run(run_until(_more_polls(site, "/papers")))
        assert len(inbox.received) == 1


def test_a_deferred_email_is_retried_by_the_daemon_without_a_new_poll(tmp_path: Path):
    everything = _all_titles()
    greylist = Inbox([Fault("DATA", "451 4.7.1 greylisted, try again later")])  # once
    with http_site() as site, smtp_server(greylist) as (inbox, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        with BotRun(tmp_path, config) as daemon:
            # The first attempt is refused; the page never changes, so only the daemon's own
            # look at the outbox (every 30 s) can send it again once its backoff is over.
            assert wait_until(lambda: inbox.started == 1, 20), daemon.log()
            assert wait_until(lambda: len(inbox.received) == 1, 50), daemon.log()
            [mail] = _mail_for(inbox, ALICE)
            assert titles_in(mail, everything) == _expected(ALICE, 0)
            assert "deferred=" in daemon.log()
            assert wait_until(_more_polls(site, "/papers"), 10), daemon.log()
            assert len(inbox.received) == 1
            assert daemon.stop() == 0


def test_daemons_sharing_a_postgresql_ledger_take_turns_to_lead(
    tmp_path: Path, pg_database_url: str
):
    # SPEC section 8: one leader polls and composes; a standby takes over when it dies.
    everything = _all_titles()
    with http_site() as site, smtp_server() as (inbox, port), ExitStack() as stack:
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        text = config.read_text(encoding="utf-8").replace("sqlite:///bot.db", pg_database_url)
        config.write_text(text, encoding="utf-8")
        (tmp_path / "b").mkdir()
        with BotRun(tmp_path, config) as first:
            assert wait_until(lambda: len(_mail_for(inbox, ALICE)) == 1, 20), first.log()
            second = BotRun(tmp_path / "b", config)
            stack.enter_context(second)
            assert wait_until(lambda: "daemon=standby" in second.log(), 10), second.log()
            leader = f"pid {first.proc.pid} on {socket.gethostname()} leads"
            assert leader in second.log()
            first.proc.kill()  # no clean exit: the server drops the lock with the session
            first.proc.wait(10)
            assert wait_until(lambda: "daemon=leader" in second.log(), 15), second.log()
            site.put("/papers", PAGE[1].read_bytes())
            assert wait_until(lambda: len(_mail_for(inbox, ALICE)) == 2, 20), second.log()
            assert titles_in(_mail_for(inbox, ALICE)[1], everything) == _expected(ALICE, 1)
            assert second.stop() == 0
        assert len(inbox.received) == 2


def test_sigterm_finishes_the_message_in_flight_and_it_is_not_sent_again(tmp_path: Path):
    slow = Inbox(delay=2)  # takes 2 s over each message, then queues it and answers 250
    with http_site() as site, smtp_server(slow) as (inbox, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: inbox.started == 1, 20), daemon.log()
            started = time.monotonic()
            assert daemon.stop(signal.SIGTERM) == 0
            assert time.monotonic() - started < 10
        assert len(inbox.received) == 1  # the server had it before the daemon exited
        with sqlite3.connect(tmp_path / "bot.db") as db:
            states = db.execute("select state, count(*) from outbox group by state").fetchall()
        assert states == [("sent", 1)]  # recorded as sent: nothing to send again
        again = run_bot("--config", str(config), "send", "--all", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert len(inbox.received) == 1


def test_a_reload_with_a_broken_template_changes_nothing_until_it_is_fixed(tmp_path: Path):
    with http_site() as site, smtp_server() as (inbox, port):
        url = site.put("/papers", PAGE[0].read_bytes())
        other = site.put("/other", PAGE[1].read_bytes())
        config = page_settings(tmp_path, url, port, [ALICE])
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: len(inbox.received) == 1, 20), daemon.log()
            templates = tmp_path / "mine"
            templates.mkdir()
            (templates / "digest.txt.j2").write_text("{% if %}", encoding="utf-8")
            text = config.read_text(encoding="utf-8").replace(
                "[mail]", 'templates = "mine"\n[mail]'
            )
            text += f'\n[[sources]]\nname = "other"\ntype = "page"\nurl = "{other}"\nevery = "1s"\n'
            config.write_text(text, encoding="utf-8")
            assert wait_until(lambda: "settings=invalid" in daemon.log(), 10), daemon.log()
            assert wait_until(_more_polls(site, "/papers"), 10), daemon.log()
            assert "/other" not in site.requests  # the edit was not half applied
            assert daemon.log().count("settings=invalid") == 1  # reported once
            (templates / "digest.txt.j2").unlink()  # fixed: the bundled one is used again
            assert wait_until(lambda: "/other" in site.requests, 10), daemon.log()
            assert daemon.stop() == 0

"""Issue 10: a subscriber added while a poll is running gets that poll's papers (SPEC section 4).

Deterministic: the page server holds the poll's request until the test has rewritten the
settings file and the daemon has reloaded it; no sleep decides the order.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from support import FIXTURES, http_site, maildir_messages, ok

from bot.daemon import Daemon
from bot.ledger import Ledger
from bot.settings.load import load_settings

PAGE = FIXTURES / "pages" / "000_14d685580f9831a7.txt"
ALICE, BOB = "alice@example.org", "bob@example.org"
CASCADES = 'title:"language model cascades"'  # one paper of PAGE, by its title


def _write(folder: Path, url: str, people: dict[str, str]) -> Path:
    lines = [
        '[bot]\ndatabase = "sqlite:///bot.db"\n',
        '[mail]\ntransport = "maildir"\nmaildir = "mail"\n',
        f'[[sources]]\nname = "hf"\ntype = "page"\nurl = "{url}"\nevery = "1h"\n',
    ]
    for email, query in people.items():
        lines.append(
            f'[[subscribers]]\nemail = "{email}"\nkeywords = [{query!r}]\ncadence = "instant"\n'
        )
    path = folder / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_a_subscriber_added_while_the_sources_are_fetched_gets_that_polls_papers(tmp_path: Path):
    asked, answer = threading.Event(), threading.Event()
    body = PAGE.read_bytes()

    def held(headers: dict[str, str]):
        asked.set()
        answer.wait(20)  # the poll is in flight until the test lets it go
        return ok(body, "text/plain; charset=utf-8")

    # Bob's query names one paper of the page (its title, read from the page).
    wanted = {"Language Model Cascades: Token-level uncertainty and beyond"}
    with http_site() as site:
        url = site.put("/papers", held)
        config = _write(tmp_path, url, {ALICE: "title:zzzunmatched"})

        async def scenario() -> None:
            with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
                daemon = Daemon(load_settings(config), store, {})
                polling = asyncio.create_task(daemon.poll_source("hf"))
                assert await asyncio.to_thread(asked.wait, 20)
                _write(tmp_path, url, {ALICE: "title:zzzunmatched", BOB: CASCADES})
                await daemon.watch_settings()  # the reload, while the poll waits for the page
                assert [s.email for s in daemon.settings.subscribers] == [ALICE, BOB]
                answer.set()
                await polling

        try:
            asyncio.run(scenario())
        finally:
            answer.set()
    with sqlite3.connect(tmp_path / "bot.db") as db:
        owed = db.execute(
            "select d.email, d.state, p.title from deliveries d join papers p on p.id = d.paper_id"
        ).fetchall()
    assert owed == [(BOB, "sent", title) for title in sorted(wanted)]
    [mail] = maildir_messages(tmp_path / "mail")
    assert BOB in mail["To"]

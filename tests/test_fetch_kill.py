"""`bot fetch` killed (SIGKILL) while it records: a paper and its deliveries commit together.

Since issue 14 the deliveries of a poll go in several bulk INSERTs, all in the transaction that
records the papers. A real `bot fetch` is killed once its recording is under way (SQLite: its WAL
file grows; PostgreSQL: its INSERT INTO deliveries is running); the ledger then holds no paper
and no delivery, and the next `bot fetch` records every paper with every delivery.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support import bot_command, run_bot

from bot.ledger import Ledger

# Every title holds "kernel" and every reader asks for it: each paper is owed to each reader.
PAPERS, READERS = 400, 160  # 64,000 deliveries: more than one bulk INSERT, long enough to kill
KILLS = 2
COUNTS = (
    "SELECT (SELECT count(*) FROM papers),"
    " (SELECT count(*) FROM deliveries),"
    " (SELECT count(*) FROM deliveries d LEFT JOIN papers p ON p.id = d.paper_id"
    "  WHERE p.id IS NULL),"
    " (SELECT count(*) FROM papers p WHERE"
    "  (SELECT count(*) FROM deliveries d WHERE d.paper_id = p.id) <> :readers)"
)


def _listing() -> str:
    items = "".join(
        f"<item><title>{escape(f'Kernel methods, part {n}')}</title>"
        f"<link>https://arxiv.org/abs/2511.{n:05d}</link>"
        f"<description>arXiv:2511.{n:05d}v1 Announce Type: new \nAbstract: Part {n} of a series."
        "</description><arxiv:announce_type>new</arxiv:announce_type></item>\n"
        for n in range(1, PAPERS + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' version="2.0"><channel><title>cs updates on arXiv.org</title>'
        f"<link>http://rss.arxiv.org/rss/cs</link>{items}</channel></rss>\n"
    )


def _settings(folder: Path, database: str) -> None:
    readers = "".join(
        f"[[subscribers]]\nemail = 'reader{n:03d}@example.org'\nkeywords = ['kernel']\n"
        for n in range(READERS)
    )
    (folder / "listing.xml").write_text(_listing(), encoding="utf-8")
    (folder / "settings.toml").write_text(
        f"[bot]\ndatabase = '{database}'\n[mail]\ntransport = 'maildir'\n"
        "[[sources]]\nname = 'arxiv-cs'\ntype = 'feed'\nurl = 'file:listing.xml'\n" + readers,
        encoding="utf-8",
    )


def _counts(database: str) -> tuple[int, int, int, int]:
    """Papers, deliveries, deliveries without their paper, papers without all their deliveries."""
    with Ledger.open(database) as ledger, ledger.database.read() as conn:
        return tuple(conn.execute(text(COUNTS), {"readers": READERS}).one())


class _Recording:
    """Whether a `bot fetch` is writing its recording transaction now."""

    def __init__(self, database: str, folder: Path):
        self.url = make_url(database)
        self.wal = folder / "bot.db-wal"
        self.engine = None
        if self.url.get_backend_name() != "sqlite":  # watching, under a name of its own
            self.engine = create_engine(self.url.difference_update_query(["application_name"]))
        self.start = 0

    def begin(self) -> None:
        """Called when the sources are fetched: the recording comes next."""
        self.start = self.wal.stat().st_size if self.engine is None else 0

    def under_way(self) -> bool:
        if self.engine is None:  # SQLite spills the transaction's pages into the WAL as it goes
            return self.wal.stat().st_size > self.start + 512 * 1024
        return self._backends(" AND state = 'active' AND query LIKE 'INSERT INTO deliveries%'") > 0

    def settle(self) -> None:
        """PostgreSQL: wait until the killed client's server process has given up (it sees the
        client gone once its statement ends, and rolls back)."""
        deadline = time.monotonic() + 60
        while self.engine is not None and self._backends("") and time.monotonic() < deadline:
            time.sleep(0.05)

    def _backends(self, where: str) -> int:
        sql = f"SELECT count(*) FROM pg_stat_activity WHERE application_name = :name{where}"
        assert self.engine is not None
        with self.engine.connect() as conn:
            return conn.scalar(text(sql), {"name": self.url.query["application_name"]})

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _kill_while_recording(folder: Path, recording: _Recording) -> bool:
    """Run `bot fetch`, SIGKILL it once its recording is under way; whether it was."""
    process = subprocess.Popen(
        [*bot_command(), "--log-level", "info", "fetch"],
        cwd=folder,
        env={k: v for k, v in os.environ.items() if k != "BOT_CONFIG"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "source=arxiv-cs fetched" in line:
                break
        recording.begin()
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if recording.under_way():
                process.kill()
                process.wait(30)
                return True
            time.sleep(0.002)
        return False
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        process.stderr.close()


def test_a_fetch_killed_while_recording_leaves_no_paper_without_its_deliveries(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        name = f"bot-kill-{uuid.uuid4().hex[:8]}"  # to find its statement in pg_stat_activity
        database_url = make_url(database_url).update_query_dict({"application_name": name})
        database_url = database_url.render_as_string(hide_password=False)
    else:
        database_url = "sqlite:///bot.db"
    _settings(tmp_path, database_url)
    absolute = database_url.replace("sqlite:///", f"sqlite:///{tmp_path}/")
    recording = _Recording(absolute, tmp_path)
    try:
        for _ in range(KILLS):
            killed = _kill_while_recording(tmp_path, recording)
            if not killed:
                pytest.fail("bot fetch finished before its recording could be seen and killed")
            recording.settle()
            assert _counts(absolute) == (0, 0, 0, 0)  # killed before the commit: nothing
    finally:
        recording.close()
    done = run_bot("fetch", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        f"{PAPERS} new papers recorded, {PAPERS * READERS} deliveries queued"
    )
    assert _counts(absolute) == (PAPERS, PAPERS * READERS, 0, 0)

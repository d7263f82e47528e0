"""Interrupted and long polls (issue 13): Ctrl-C during `bot once` keeps what finished sources
gave, and says so in one line; off a terminal the output stays plain lines."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from support import bot_command, run_bot, serving

from bot.ledger import Ledger
from bot.models import Settings, Source, Subscriber
from bot.poll import poll
from tests.test_cli_ops import T0, _feed

RELEASE = threading.Event()
ASKED = threading.Event()


class _Hanging(BaseHTTPRequestHandler):
    """A source that takes the request and answers only when the test lets it (a hung server)."""

    def do_GET(self) -> None:  # noqa: N802
        ASKED.set()
        RELEASE.wait(30)
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_cancelled_poll_records_the_sources_that_had_finished(tmp_path: Path):
    (tmp_path / "feed.xml").write_text(_feed(["Sparse one", "Sparse two"]), encoding="utf-8")
    RELEASE.clear()
    try:
        with serving(_Hanging) as base, Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as ledger:
            settings = Settings(
                path=tmp_path / "settings.toml",
                sources=(
                    Source("fast", "feed", (tmp_path / "feed.xml").as_uri()),
                    Source("slow", "feed", base + "/hang"),
                ),
                subscribers=(Subscriber("ann@example.org", keywords=("sparse",)),),
            )

            async def scenario() -> None:
                fast_done = asyncio.Event()
                task = asyncio.create_task(
                    poll(settings, ledger.papers, T0, on_source=lambda o: fast_done.set())
                )
                await fast_done.wait()  # "fast" finished; "slow" hangs
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    return
                raise AssertionError("the poll was not cancelled")

            asyncio.run(scenario())
            assert sorted(p.title for p in ledger.papers.seen()) == ["Sparse one", "Sparse two"]
            assert len(ledger.deliveries.pending("ann@example.org")) == 2
            assert ledger.papers.source_state("fast").last_count == 2
            assert (
                ledger.papers.source_state("slow") is None
            )  # never answered: not recorded as polled
    finally:
        RELEASE.set()


def test_ctrl_c_during_bot_once_keeps_the_finished_sources_and_says_so_once(tmp_path: Path):
    (tmp_path / "feed.xml").write_text(_feed(["Sparse one"]), encoding="utf-8")
    RELEASE.clear()
    ASKED.clear()
    try:
        with serving(_Hanging) as base:
            fast = (tmp_path / "feed.xml").as_uri()
            (tmp_path / "settings.toml").write_text(
                '[mail]\ntransport = "maildir"\n'
                f'[[sources]]\nname = "fast"\ntype = "feed"\nurl = "{fast}"\n'
                f'[[sources]]\nname = "slow"\ntype = "feed"\nurl = "{base}/hang"\n'
                '[[subscribers]]\nemail = "ann@example.org"\nkeywords = ["sparse"]\n',
                encoding="utf-8",
            )
            process = subprocess.Popen(
                [*bot_command(), "--log-level", "info", "once"],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                seen = []
                for line in process.stderr:  # the log says when "fast" is in
                    seen.append(line)
                    if "source=fast fetched" in line:
                        break
                assert ASKED.wait(30), seen
                process.send_signal(signal.SIGINT)
                out, err = process.communicate(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
        assert process.returncode == 130
        assert out == ""
        assert [line for line in err.splitlines() if " level=" not in line] == [
            "interrupted: 1 finished source recorded (fast); not polled: slow"
        ]
    finally:
        RELEASE.set()
    found = run_bot("search", "sparse", cwd=tmp_path)
    assert found.stdout.splitlines()[-1] == "1 paper matches", found

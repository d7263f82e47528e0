"""The daemon near the end of the clock: a reschedule that cannot be done keeps the polls it has.

Settings refuse an `every` past a year (test_cli_hostile), but the scheduler adds `every` to
*now*, so a clock near year 9999 still cannot hold a valid one. time-machine moves the wall clock
(datetime.now) only; asyncio keeps its own monotonic clock, so the daemon really runs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from support import FIXTURES, http_site, until

from bot.daemon import Daemon
from bot.ledger import Ledger
from bot.settings.load import load_settings

PAGE = FIXTURES / "pages" / "000_14d685580f9831a7.txt"
NEAR_THE_END = datetime(9999, 12, 20, tzinfo=UTC)  # + 1 s is a time, + 30 days is not


def _settings_text(url: str, every: str) -> str:
    return (
        '[bot]\ndatabase = "sqlite:///bot.db"\n'
        f'[[sources]]\nname = "hf"\ntype = "page"\nurl = "{url}"\nevery = "{every}"\n'
    )


@pytest.mark.timeout(60)
def test_a_reschedule_the_clock_cannot_hold_keeps_the_polls_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    config = tmp_path / "settings.toml"
    with http_site() as site, time_machine.travel(NEAR_THE_END, tick=True):
        url = site.put("/papers", PAGE.read_bytes())
        config.write_text(_settings_text(url, "1s"), encoding="utf-8")
        settings = load_settings(config)
        polls = lambda: site.requests.count("/papers")  # noqa: E731

        async def scenario() -> None:
            with Ledger.open(settings.database) as store:
                daemon = Daemon(settings, store, {})
                running = asyncio.create_task(daemon.run())
                try:
                    assert await until(lambda: polls() >= 2, 15), caplog.text
                    config.write_text(_settings_text(url, "30d"), encoding="utf-8")
                    assert await until(lambda: "settings=invalid" in caplog.text, 10)
                    before = polls()
                    assert await until(lambda: polls() >= before + 2, 10), caplog.text
                finally:
                    daemon.stopping.set()
                    assert await asyncio.wait_for(running, 15) == 0

        asyncio.run(scenario())
    [line] = [r.getMessage() for r in caplog.records if "settings=invalid" in r.getMessage()]
    assert "sources[0].every: 30 days, 0:00:00 cannot be scheduled from now" in line, line
    assert "write a shorter every" in line

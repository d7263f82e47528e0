"""bot.daemon.jobs: a job still running when its next wake-up comes is skipped without a log line.

Seen in CI on a loaded machine: a 1 s poll that took longer than 1 s made APScheduler log
`Execution of job … skipped: maximum number of running instances reached (1)` at WARNING on every
wake-up, the noise issue 13 took out of the daemon's log.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.daemon.jobs import Jobs


def test_an_overlapping_wake_up_is_skipped_quietly(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    assert asyncio.run(_run_overlapping()) >= 2
    assert [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler")] == []


async def _run_overlapping() -> int:
    runs = 0

    async def slow_job() -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.5)  # longer than the 0.1 s interval: every wake-up meets it running

    jobs = Jobs(asyncio.Event())
    jobs.every(0.1, "slow", slow_job)
    jobs.start()
    try:
        for _ in range(100):
            await asyncio.sleep(0.02)
            if runs >= 2:
                break
    finally:
        await jobs.stop(lambda: 2.0)  # the daemon's own stop: the running job ends, then shutdown
    return runs

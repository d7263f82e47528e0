"""APScheduler wiring for `bot run`: guarded jobs that never misfire away, and a drain at stop.

APScheduler (3.x, AsyncIOScheduler) only wakes the daemon up; what is due is decided by the
daemon from the database and its own clock, so a trigger that fires twice, late or not at all
changes nothing. Jobs never misfire away: APScheduler's default grace of 1 s skips a late job with
only a warning (RELIABILITY.md finding 9), so every job here has misfire_grace_time=None and
coalesce. The triggers run on the wall clock (APScheduler's own); the daemon's injected clock
only decides what is due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.errors import BotError, ConfigError
from bot.models import Settings

__all__ = ["Jobs", "STOP_GRACE", "poll_triggers"]

log = logging.getLogger(__name__)

STOP_GRACE = 7.0  # seconds to finish work in flight after SIGTERM; exit well within 10 s
STOP_GRACE_AFTER_CANCEL = 1.5  # then seconds for cancelled jobs to let go


def poll_triggers(settings: Settings) -> dict[str, IntervalTrigger]:
    """One interval trigger per source, made before any job changes: a trigger takes
    now + every, which a clock cannot hold near its end (OverflowError), so a reschedule that
    cannot be done is refused whole and the jobs in place stay. Raises ConfigError."""
    triggers = {}
    for index, source in enumerate(settings.sources):
        try:
            triggers[source.name] = IntervalTrigger(
                seconds=source.every.total_seconds(), timezone=UTC
            )
        except (OverflowError, ValueError) as exc:
            raise ConfigError(
                f"{settings.path}: sources[{index}].every: {source.every} cannot be"
                f" scheduled from now ({exc}); write a shorter every"
            ) from None
    return triggers


def _drop_overlap_warnings(record: logging.LogRecord) -> bool:
    """False for APScheduler's "skipped: maximum number of running instances reached": a wake-up
    while the same job still runs (a slow poll on a loaded machine) is what max_instances=1 is for,
    and what is due is read from the ledger on the next one, so it is not worth a WARNING line."""
    return "maximum number of running instances" not in record.getMessage()


class Jobs:
    """The daemon's periodic jobs; each runs guarded, one instance at a time."""

    def __init__(self, stopping: asyncio.Event):
        # APScheduler logs INFO lines for each job added and two per job run ("Running job …",
        # "… executed successfully"): with polls every few seconds that is most of the log
        # (~170k lines a day, issue 13). Its warnings and errors still show; --log-level debug
        # shows it all.
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("apscheduler").setLevel(logging.WARNING)
            logging.getLogger("apscheduler.scheduler").addFilter(_drop_overlap_warnings)
        self._stopping = stopping
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._tasks: set[asyncio.Task] = set()

    def every(
        self, every: float | IntervalTrigger, name: str, job, *args, now: bool = True
    ) -> None:
        """Run `job(*args)` every `every` seconds or as its trigger says (and at once if `now`),
        guarded, never misfired away; replaces a job of the same name.

        misfire_grace_time=None: APScheduler 3 silently skips a job late by more than its grace
        (1 s by default, RELIABILITY finding 9); coalesce: a backlog of runs is one run.
        """
        # No next_run_time at all unless now: APScheduler 3 takes an explicit None as "paused".
        first = {"next_run_time": datetime.now(UTC)} if now else {}
        if not isinstance(every, IntervalTrigger):
            every = IntervalTrigger(seconds=every, timezone=UTC)
        self._scheduler.add_job(
            self._guarded,
            every,
            args=[job, *args],
            id=name,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
            **first,
        )

    def names(self, prefix: str = "") -> set[str]:
        return {job.id for job in self._scheduler.get_jobs() if job.id.startswith(prefix)}

    def remove(self, name: str) -> None:
        self._scheduler.remove_job(name)

    async def _guarded(self, job, *args) -> None:
        """Run one job; an expected failure is logged, never allowed to stop the daemon."""
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await job(*args)
        except BotError as exc:
            log.error("job=%s error=%r", job.__name__, str(exc))
        except asyncio.CancelledError:
            if not self._stopping.is_set():
                raise
            # Cut at shutdown after its grace: said in one line, not as a traceback.
            log.warning("job=%s interrupted=shutdown", job.__name__)
        finally:
            self._tasks.discard(task)

    def start(self) -> None:
        self._scheduler.start()

    async def stop(self, grace: Callable[[], float]) -> None:
        """Start nothing more, let the running jobs end within `grace()` seconds (asked again
        while waiting: a send in flight may get longer), cancel stragglers, shut down.

        pause, not shutdown first: APScheduler 3's AsyncIOExecutor.shutdown cancels the running
        jobs, which would cut the message in flight (it would be sent again on the next start).
        A cancelled poll has recorded nothing or everything (recording is one transaction); a
        cancelled send leaves its outbox row to be retried with the same bytes and Message-ID.
        """
        self._scheduler.pause()
        loop = asyncio.get_running_loop()
        began = loop.time()
        while self._tasks and loop.time() < began + grace():
            await asyncio.sleep(0.05)
        stragglers = list(self._tasks)
        for task in stragglers:
            task.cancel()
        if stragglers:  # a cancelled send still says QUIT politely, but not for long
            await asyncio.wait(stragglers, timeout=STOP_GRACE_AFTER_CANCEL)
        self._scheduler.shutdown(wait=False)

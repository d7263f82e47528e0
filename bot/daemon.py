"""`bot run`: APScheduler wiring, signals and live settings. No business logic lives here.

APScheduler (3.x, AsyncIOScheduler) only wakes the daemon up; what is due is decided from the
database (bot.mail.periods + the outbox), so a trigger that fires twice, late or not at all changes
nothing. Jobs never misfire away: APScheduler's default grace of 1 s skips a late job with only a
warning (RELIABILITY.md finding 9), so every job here has misfire_grace_time=None and coalesce.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bot.errors import BotError, ConfigError
from bot.ledger import Ledger
from bot.mail.periods import Period, due_period
from bot.mail.render import Renderer
from bot.mail.send import RetryPolicy, send
from bot.mail.transports import open_transports
from bot.models import Settings, Source
from bot.poll import compile_matcher, poll
from bot.settings.load import parse_settings, read_settings_file
from bot.shutdown import SIGNALS, STOP_SEND_GRACE

__all__ = ["Daemon", "STOP_GRACE"]

log = logging.getLogger(__name__)

STOP_GRACE = 7.0  # seconds to finish work in flight after SIGTERM; exit well within 10 s
# ... except a message whose reply is awaited: it gets STOP_SEND_GRACE (bot.shutdown).
STOP_GRACE_AFTER_CANCEL = 1.5  # then seconds for cancelled jobs to let go
WATCH_EVERY = 1.0  # seconds between looks at the settings file
DIGEST_EVERY = 30.0  # seconds between looks at which digests are due
LEAD_EVERY = 2.0  # seconds between a standby daemon's tries to take the lead (PostgreSQL)


def _now() -> datetime:
    return datetime.now(UTC)


class Daemon:
    """The long-running process: polls on schedule, sends digests when due, follows the settings."""

    def __init__(
        self, settings: Settings, ledger: Ledger, environ: dict[str, str], leadership=None
    ):
        self.ledger = ledger
        self.environ = environ
        # SPEC section 8: on a shared PostgreSQL ledger one daemon leads (polls, decides what is
        # due, composes); the others only help send. None: this daemon alone (SQLite's flock).
        self._leadership = leadership
        self.leading = leadership is None
        self.stopping = asyncio.Event()
        self._sending = asyncio.Lock()  # one sender at a time: two must never race for a person
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._tasks: set[asyncio.Task] = set()
        self._apply(settings)
        self._seen = self._fingerprint()
        self._reported: str | None = None

    # settings -----------------------------------------------------------------------------

    def _apply(self, settings: Settings) -> None:
        """Switch to `settings`, all or nothing: a ConfigError (e.g. a broken template) changes
        nothing."""
        matcher = compile_matcher(settings)
        renderer = Renderer(settings.templates)
        self.settings, self.matcher, self.renderer = settings, matcher, renderer

    def _fingerprint(self) -> tuple[int, int, int] | None:
        try:
            st = self.settings.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    async def watch_settings(self) -> None:
        """Reload the settings file when it changes; an invalid one is reported once and ignored.

        Catches in-place writes and atomic renames alike (the inode changes on a rename). An empty
        or broken file keeps the last good settings: an editor truncating the file while saving
        must not unsubscribe everyone (RELIABILITY.md finding 10).
        """
        seen = self._fingerprint()
        if seen is None or seen == self._seen:
            return
        self._seen = seen
        try:
            data = read_settings_file(self.settings.path)
        except ConfigError:
            return  # mid-rename (the next look sees the new file), or not a file to read
        digest = hashlib.sha256(data).hexdigest()
        try:
            settings = parse_settings(data, self.settings.path)
        except ConfigError as exc:
            self._report_once(digest, exc)
            return
        if settings == self.settings:
            self._reported = None
            return
        try:
            triggers = self._poll_triggers(settings)
            self._apply(settings)
        except ConfigError as exc:
            # Valid settings whose templates do not compile: look again on the next tick, since
            # fixing a template does not touch the settings file.
            self._report_once(digest, exc)
            self._seen = None
            return
        self._reported = None
        # First seen now, not at the next poll's start: a poll running now records its papers
        # for them too (SPEC section 4).
        self.ledger.papers.ensure_subscribers((s.email for s in settings.subscribers), _now())
        self._schedule_sources(triggers)
        log.warning(
            "settings=reloaded sources=%d subscribers=%d",
            len(settings.sources),
            len(settings.subscribers),
        )

    def _report_once(self, digest: str, exc: ConfigError) -> None:
        """Log why these settings are not used, once per file content; the last good stay."""
        if self._reported != digest:
            self._reported = digest
            for line in exc.problems:
                log.error("settings=invalid kept=last-good problem=%r", line)

    # jobs ---------------------------------------------------------------------------------

    def _poll_triggers(self, settings: Settings) -> dict[str, IntervalTrigger]:
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

    def _schedule_sources(self, triggers: dict[str, IntervalTrigger] | None = None) -> None:
        """Replace the poll jobs by one per source (none on a standby), all or nothing."""
        triggers = self._poll_triggers(self.settings) if triggers is None else triggers
        for job in self._scheduler.get_jobs():
            if job.id.startswith("poll:"):
                job.remove()
        if not self.leading:
            return
        for source in self.settings.sources:
            self._every(triggers[source.name], f"poll:{source.name}", self.poll_source, source.name)

    async def poll_source(self, name: str) -> None:
        """Poll one source; then send instant subscribers whatever that poll queued for them."""
        source: Source | None = next((s for s in self.settings.sources if s.name == name), None)
        if source is None or self.stopping.is_set() or not self.leading:
            return
        settings = replace(self.settings, sources=(source,))
        report = await poll(
            settings,
            self.ledger.papers,
            _now(),
            matcher=self.matcher,
            audience=lambda: (self.settings.subscribers, self.matcher),
            clock=_now,
        )
        if report.queued:
            instant = [s.email for s in self.settings.subscribers if s.cadence == "instant"]
            await self._send({email.lower(): None for email in instant})

    async def lead(self) -> None:
        """Take the lead when the leader is gone; step down when the lead was lost."""
        leading = self._leadership.try_lead()
        if leading == self.leading:
            return
        self.leading = leading
        if leading:
            log.warning("daemon=leader polls=%d", len(self.settings.sources))
        else:
            log.error("daemon=standby reason=%r", self._leadership.why)
        self._schedule_sources()

    async def send_due(self) -> None:
        """Send what is due, as the database says: every 30 s, whatever woke us before.

        Due are: an instant subscriber's papers not yet in an email (a poll's send was cut
        short); a daily/weekly digest whose period has begun, holding papers queued before it;
        and any email waiting for a retry (deferred, or left `sending` by a killed process).
        """
        retry = self.ledger.outbox.open_emails()
        # An open email goes first; no new one is built for its subscriber meanwhile.
        due: dict[str, str | None] = {
            s.email.lower(): None for s in self.settings.subscribers if s.email.lower() in retry
        }
        compose: set[str] = set()
        if not self.leading:  # a standby only helps send what the leader composed
            await self._send(due, compose)
            return
        now = _now()
        last = self.ledger.outbox.last_periods()
        oldest = self.ledger.deliveries.oldest_unassigned()
        for subscriber in self.settings.subscribers:
            email = subscriber.email.lower()
            if email in retry or email not in oldest:
                continue
            if subscriber.cadence == "instant":
                due[email] = None
                compose.add(email)
                continue
            previous = Period.from_key(last[email]).start if email in last else None
            period = due_period(subscriber, now, previous)
            # A digest is due once its period began with papers already waiting; a paper
            # queued later waits for the next, so a new subscriber is not mailed mid-period.
            if period is not None and oldest[email] <= period.start:
                due[email] = period.key
                compose.add(email)
        await self._send(due, compose)

    async def _send(
        self, due: dict[str, str | None], compose: Collection[str] | None = None
    ) -> None:
        """One send run for these subscribers (lower-case email -> digest period key or None);
        new emails only for those in `compose` (default: all of them), see bot.mail.send.send.

        The outbox holds retries: linger=0 leaves a deferred email to a later tick instead of
        holding the sending lock; SIGTERM lets the emails in flight finish and starts no other.
        """
        if not due or self.stopping.is_set():
            return
        async with self._sending:
            async with open_transports(self.settings.mail, self.environ) as transports:
                report = await send(
                    self.settings,
                    self.ledger,
                    transports,
                    self.renderer,
                    _now(),
                    emails=list(due),
                    period=lambda subscriber: due.get(subscriber.email.lower()),
                    policy=RetryPolicy(linger=0),
                    stop=self.stopping,
                    compose=compose,
                )
        if report.stopped:
            log.error("sending=stopped reason=%r", report.stopped)

    def _every(
        self, every: float | IntervalTrigger, name: str, job, *args, now: bool = True
    ) -> None:
        """Run `job(*args)` every `every` seconds or as its trigger says (and at once if `now`),
        guarded, never misfired away.

        misfire_grace_time=None: APScheduler 3 silently skips a job late by more than its grace
        (1 s by default, RELIABILITY finding 9); coalesce: a backlog of runs is one run.
        """
        # No next_run_time at all unless now: APScheduler 3 takes an explicit None as "paused".
        first = {"next_run_time": _now()} if now else {}
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
            **first,
        )

    async def _guarded(self, job, *args) -> None:
        """Run one job; an expected failure is logged, never allowed to stop the daemon."""
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await job(*args)
        except BotError as exc:
            log.error("job=%s error=%r", job.__name__, str(exc))
        except asyncio.CancelledError:
            if not self.stopping.is_set():
                raise
            # Cut at shutdown after its grace: said in one line, not as a traceback.
            log.warning("job=%s interrupted=shutdown", job.__name__)
        finally:
            self._tasks.discard(task)

    # lifecycle ----------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until SIGTERM or SIGINT; finish the work in flight; 0 on a clean stop."""
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.stopping.set)
        if self._leadership is not None:
            self.leading = self._leadership.try_lead()
            if not self.leading:
                log.warning("daemon=standby reason=%r", self._leadership.why)
            self._every(LEAD_EVERY, "lead", self.lead, now=False)
        self._schedule_sources()
        self._every(DIGEST_EVERY, "digests", self.send_due)
        self._every(WATCH_EVERY, "settings", self.watch_settings, now=False)
        self._scheduler.start()
        log.warning(
            "daemon=started sources=%d subscribers=%d database=%s",
            len(self.settings.sources),
            len(self.settings.subscribers),
            make_url(self.settings.database).render_as_string(hide_password=True),
        )
        await self.stopping.wait()
        log.info("daemon=stopping")
        # pause, not shutdown: APScheduler 3's AsyncIOExecutor.shutdown cancels the running jobs,
        # which would cut the message in flight (it would be sent again on the next start).
        self._scheduler.pause()
        await self._drain()
        self._scheduler.shutdown(wait=False)
        log.info("daemon=stopped")
        return 0

    async def _drain(self) -> None:
        """Let the running jobs end (a send stops after its message in flight); cancel stragglers.

        A send in flight gets STOP_SEND_GRACE: the server may have queued the message and be
        about to say so; cut, it would be sent again. A cancelled poll has recorded nothing or
        everything (recording is one transaction); a cancelled send leaves its outbox row to be
        retried with the same bytes and Message-ID.
        """
        loop = asyncio.get_running_loop()
        began = loop.time()

        def waiting() -> bool:
            grace = STOP_SEND_GRACE if self._sending.locked() else STOP_GRACE
            return bool(self._tasks) and loop.time() < began + grace

        while waiting():
            await asyncio.sleep(0.05)
        stragglers = list(self._tasks)
        for task in stragglers:
            task.cancel()
        if stragglers:  # a cancelled send still says QUIT politely, but not for long
            await asyncio.wait(stragglers, timeout=STOP_GRACE_AFTER_CANCEL)

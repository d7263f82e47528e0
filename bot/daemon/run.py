"""`bot run`: what the daemon does and when; APScheduler only wakes it up (bot.daemon.jobs).

What is due is decided from the database (bot.mail.periods + the outbox) and the daemon's own
clock, which is passed in (`clock`, the wall clock by default): tests drive time through it
instead of sleeping to a boundary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from bot.daemon.jobs import STOP_GRACE, Jobs, poll_triggers
from bot.daemon.watch import SettingsWatcher
from bot.errors import ConfigError
from bot.ledger import Ledger
from bot.mail.due import due_now
from bot.mail.render import Renderer
from bot.mail.send import RetryPolicy, send
from bot.mail.transports import open_transports
from bot.models import Settings, Source
from bot.poll import compile_matcher, poll
from bot.shutdown import SIGNALS, STOP_SEND_GRACE
from bot.web.secret import with_secret

__all__ = ["Daemon"]

log = logging.getLogger(__name__)

WATCH_EVERY = 1.0  # seconds between looks at the settings file
DIGEST_EVERY = 30.0  # seconds between looks at which digests are due
LEAD_EVERY = 2.0  # seconds between a standby daemon's tries to take the lead (PostgreSQL)


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Daemon:
    """The long-running process: polls on schedule, sends digests when due, follows the settings."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        environ: dict[str, str],
        leadership=None,
        *,
        clock: Callable[[], datetime] = wall_clock,
    ):
        self.ledger = ledger
        self.environ = environ
        self.now = clock
        # SPEC section 8: on a shared PostgreSQL ledger one daemon leads (polls, decides what is
        # due, composes); the others only help send. None: this daemon alone (SQLite's flock).
        self._leadership = leadership
        self.leading = leadership is None
        self.stopping = asyncio.Event()
        self._sending = asyncio.Lock()  # one sender at a time: two must never race for a person
        self._jobs = Jobs(self.stopping)
        self._page = None  # the recipients' page (bot.web.server), with [web]
        self._apply(settings)
        self._watcher = SettingsWatcher(settings.path)

    # settings -----------------------------------------------------------------------------

    def _apply(self, settings: Settings) -> None:
        """Switch to `settings`, all or nothing: a ConfigError (e.g. a broken template) changes
        nothing; so does a [web] secret missing from the environment."""
        settings = with_secret(settings, self.environ)
        matcher = compile_matcher(settings)
        renderer = Renderer(settings.templates)
        self.settings, self.matcher, self.renderer = settings, matcher, renderer

    async def watch_settings(self) -> None:
        """Reload the settings file when it changes (bot.daemon.watch); re-poll at once only the
        sources whose own settings changed: a new subscriber waits for the next poll."""
        settings = self._watcher.changed(self.settings)
        if settings is None:
            return
        before = self.settings
        try:
            triggers = poll_triggers(settings)
            self._apply(settings)
        except ConfigError as exc:
            # Valid settings whose templates do not compile: look again on the next tick, since
            # fixing a template does not touch the settings file.
            self._watcher.refuse(exc, look_again=True)
            return
        self._watcher.accepted(settings)
        old, new = before.web, settings.web
        if (old and (old.host, old.port)) != (new and (new.host, new.port)):
            log.warning("web=unchanged reason=%r", "[web] listen changed: restart bot run for it")
        # First seen now, not at the next poll's start: a poll running now records its papers
        # for them too (SPEC section 4).
        self.ledger.papers.ensure_subscribers((s.email for s in settings.subscribers), self.now())
        old = {source.name: source for source in before.sources}
        changed = {s.name for s in settings.sources if old.get(s.name) != s}
        self._schedule_sources(triggers, changed)
        log.info(
            "settings=reloaded sources=%d subscribers=%d repolled=%s",
            len(settings.sources),
            len(settings.subscribers),
            ",".join(sorted(changed)) or "none",
        )

    # jobs ---------------------------------------------------------------------------------

    def _schedule_sources(self, triggers=None, changed: Collection[str] | None = None) -> None:
        """One poll job per source (none on a standby), polled at once; with `changed`, the jobs
        of the other sources stay as they are (their next poll keeps its time)."""
        triggers = poll_triggers(self.settings) if triggers is None else triggers
        names = {source.name for source in self.settings.sources}
        for job in self._jobs.names("poll:"):
            name = job.removeprefix("poll:")
            if not self.leading or name not in names or changed is None or name in changed:
                self._jobs.remove(job)
        if not self.leading:
            return
        running = self._jobs.names("poll:")
        for name in names:
            if f"poll:{name}" not in running:
                self._jobs.every(triggers[name], f"poll:{name}", self.poll_source, name)

    async def poll_source(self, name: str) -> None:
        """Poll one source; then send instant subscribers whatever that poll queued for them."""
        source: Source | None = next((s for s in self.settings.sources if s.name == name), None)
        if source is None or self.stopping.is_set() or not self.leading:
            return
        settings = replace(self.settings, sources=(source,))
        report = await poll(
            settings,
            self.ledger.papers,
            self.now(),
            matcher=self.matcher,
            audience=lambda: (self.settings.subscribers, self.matcher),
            clock=self.now,
        )
        if report.queued:
            instant = [
                s.email
                for s in self.settings.subscribers
                if s.cadence == "instant" and not s.paused
            ]
            await self._send({email.lower(): None for email in instant})

    async def lead(self) -> None:
        """Take the lead when the leader is gone; step down when the lead was lost."""
        leading = self._leadership.try_lead()
        if leading == self.leading:
            return
        self.leading = leading
        if leading:
            log.info("daemon=leader polls=%d", len(self.settings.sources))
        else:
            log.error("daemon=standby reason=%r", self._leadership.why)
        self._schedule_sources()

    async def send_due(self) -> None:
        """Send what is due, as the database says: every 30 s, whatever woke us before.

        Due are: an instant subscriber's papers not yet in an email (a poll's send was cut
        short); a daily/weekly digest whose period has begun, holding papers queued before it;
        and any email waiting for a retry (deferred, or left `sending` by a killed process).
        """
        due = due_now(self.settings.subscribers, self.ledger, self.now(), leading=self.leading)
        await self._send(due.emails, due.compose)

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
                    self.now(),
                    emails=list(due),
                    period=lambda subscriber: due.get(subscriber.email.lower()),
                    policy=RetryPolicy(linger=0),
                    stop=self.stopping,
                    compose=compose,
                )
        if report.stopped:
            log.error("sending=stopped reason=%r", report.stopped)

    # lifecycle ----------------------------------------------------------------------------

    async def _serve_page(self) -> None:
        """Serve the recipients' page on [web] listen, in this loop (bot.web.server)."""
        web = self.settings.web
        if web is None:
            return
        from bot.web.server import PageServer  # aiohttp only for daemons that serve the page

        self._page = PageServer(lambda: self.settings, self.ledger.recipients, self.now)
        await self._page.start(web.host, web.port, f"{self.settings.path}: web.listen")

    async def run(self) -> int:
        """Run until SIGTERM or SIGINT; finish the work in flight; 0 on a clean stop."""
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.stopping.set)
        if self._leadership is not None:
            self.leading = self._leadership.try_lead()
            if not self.leading:
                log.info("daemon=standby reason=%r", self._leadership.why)
            self._jobs.every(LEAD_EVERY, "lead", self.lead, now=False)
        await self._serve_page()
        self._schedule_sources()
        self._jobs.every(DIGEST_EVERY, "digests", self.send_due)
        self._jobs.every(WATCH_EVERY, "settings", self.watch_settings, now=False)
        self._jobs.start()
        log.info(
            "daemon=started sources=%d subscribers=%d database=%s",
            len(self.settings.sources),
            len(self.settings.subscribers),
            make_url(self.settings.database).render_as_string(hide_password=True),
        )
        await self.stopping.wait()
        log.info("daemon=stopping")
        if self._page is not None:
            await self._page.stop()
        # A send in flight gets STOP_SEND_GRACE: the server may have queued the message and be
        # about to say so; cut, it would be sent again.
        await self._jobs.stop(lambda: STOP_SEND_GRACE if self._sending.locked() else STOP_GRACE)
        log.info("daemon=stopped")
        return 0

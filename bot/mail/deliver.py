"""Delivering the outbox over one or more transports while it is still being filled.

One feeder claims due rows (several at a time, one commit) into a queue; `concurrency` workers,
one transport (connection) each, take the next row as soon as their last one is done, so no
connection waits for a claim and none sits idle while another still has rows lined up. Claimed
rows a killed process never tried are reclaimed at once (their owner is gone), so claiming ahead
costs nothing in safety, only fairness between processes (cron next to the daemon).
While the outbox is being filled (bot.mail.fill, in the same run) the feeder claims each email as
it is stored, and sleeps in between; the pass ends when nothing is due, nothing is being filled
and no worker is busy.
An email is marked sent (one commit) as soon as the server's 250 comes; its worker meanwhile
starts the next email, whose content goes out only once that commit is done (the transport awaits
it before DATA). So the commit costs the connection no time, and a kill between a 250 and its
commit, the only window that makes a duplicate, still repeats at most one email per connection.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.errors import MessageTooBigError, PermanentSendError, RecipientRefusedError, SendError
from bot.ledger import OffLoop, Outbox, OutboxEmail, Recipients, new_owner
from bot.mail.retry import RetryPolicy, SendReport

__all__ = ["Delivery"]

log = logging.getLogger("bot.mail.send")  # one logger for a send run, whichever module logs

Claimed = tuple[OutboxEmail, datetime]  # a row and when its lease was taken
# Rows claimed ahead at most (more with more workers: two each): the feeder tops the queue up to it
# when rows were just stored, else once fewer rows than workers wait.
_CLAIM_AHEAD = 8


class Delivery:
    """One send run's delivery: see the module docstring. `added()` says new rows are due."""

    def __init__(
        self,
        outbox: Outbox,
        recipients: Recipients,
        run: OffLoop,
        pool: list,
        sender: str,
        scope: set[str],
        clock: Callable[[], datetime],
        policy: RetryPolicy,
        rng: random.Random,
        report: SendReport,
        stop: asyncio.Event | None,
        split: Callable[[OutboxEmail, str], Awaitable[int]],
    ):
        self.outbox, self.recipients, self.run = outbox, recipients, run
        self.pool, self.sender = pool, sender
        self.scope, self.clock, self.policy, self.rng = scope, clock, policy, rng
        self.report, self.stop, self.split = report, stop, split
        self.owner = new_owner()
        self.lease = timedelta(seconds=policy.lease)
        self.deferred: dict[int, str] = {}  # row id -> line, for rows whose last attempt failed
        self.accepted: set[int] = set()  # sent, not yet committed
        self.recording: set[asyncio.Task] = set()  # commits of sent emails under way
        self.failures = 0  # in a row, for the breaker
        self.busy = 0  # workers sending a row
        self.wake = asyncio.Event()  # for the feeder: a row added, taken or done; filling ended
        self.fresh = asyncio.Event()  # rows were added since the feeder's last claim

    def added(self) -> None:
        """New rows are due (an email stored by fill, the halves of a split)."""
        self.fresh.set()
        self.wake.set()

    def halted(self) -> bool:
        return self.report.stopped is not None or (self.stop is not None and self.stop.is_set())

    async def deliver(self, filling: asyncio.Future | None) -> None:
        """Send due rows until none is left (`filling`, the fill still running, done too),
        retrying within the run what comes due within the policy's linger."""
        if filling is not None:
            filling.add_done_callback(lambda _: self.wake.set())
        try:
            while not self.halted():
                await self._pass(filling)
                await self._commit_sent()
                if self.halted():
                    break
                retry_at = await self.run(self.outbox.next_attempt, self.scope)
                if retry_at is None:
                    break
                wait = (retry_at - self.clock()).total_seconds()
                if wait > self.policy.linger:
                    break
                await asyncio.sleep(max(wait, 0.0) + 0.001)
                self.added()  # those rows are due now
        finally:
            await asyncio.gather(*self.recording, return_exceptions=True)
            await self._commit_sent()  # what the server accepted is recorded, even when cancelled
        self.report.deferred.extend(self.deferred.values())

    async def _pass(self, filling: asyncio.Future | None) -> None:
        """The feeder and the workers until nothing is due (see the module docstring)."""
        queue: asyncio.Queue[Claimed | None] = asyncio.Queue()
        untried: list[int] = []  # claimed, then not sent because the run stopped
        tasks = [asyncio.ensure_future(self._feed(queue, filling))]
        tasks += [asyncio.ensure_future(self._work(t, queue, untried)) for t in self.pool]
        if self.stop is not None:  # a signal wakes a sleeping feeder
            tasks.append(asyncio.ensure_future(self._wake_on(self.stop)))
        try:
            await asyncio.gather(*tasks[: len(self.pool) + 1])
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            while not queue.empty():
                if (item := queue.get_nowait()) is not None:
                    untried.append(item[0].id)
            if untried:  # back to pending, as before their claim
                await self.run(self.outbox.release, untried, self.owner)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.wake.set()

    async def _feed(self, queue: asyncio.Queue[Claimed | None], filling) -> None:
        """Keep the queue topped up with claimed rows; end the pass when nothing is left."""
        low, high = len(self.pool), max(_CLAIM_AHEAD, 2 * len(self.pool))
        exhausted = False  # the last claim found fewer due rows than it asked for
        try:
            while not self.halted():
                self.wake.clear()
                # New rows are claimed as they come, up to `high`; else once the queue runs low.
                fresh = self.fresh.is_set()
                if fresh:
                    self.fresh.clear()
                    exhausted = False
                if not exhausted and queue.qsize() < (high if fresh else low):
                    want = high - queue.qsize()
                    claimed_at = self.clock()
                    rows = await self.run(
                        self.outbox.claim_due, self.owner, claimed_at, self.lease, want, self.scope
                    )
                    for row in rows:
                        queue.put_nowait((row, claimed_at))
                    exhausted = len(rows) < want
                    continue
                filled = filling is None or filling.done()
                if exhausted and filled and not self.busy and queue.empty():
                    if not self.fresh.is_set():
                        return
                    continue
                await self.wake.wait()
        finally:
            for _ in self.pool:
                queue.put_nowait(None)  # each worker's end

    async def _work(self, transport, queue: asyncio.Queue[Claimed | None], untried: list[int]):
        """One connection's worker: the next claimed row as soon as the last one is done."""
        recorded: asyncio.Task | None = None  # the commit of this worker's last email sent
        while (item := await queue.get()) is not None:
            self.wake.set()  # room in the queue
            row, claimed_at = item
            if self.halted():
                untried.append(row.id)
                continue
            self.busy += 1
            try:
                recorded = await self._send(transport, row, claimed_at, recorded) or recorded
            finally:
                self.busy -= 1
                self.wake.set()
        if recorded is not None:
            await recorded

    async def _send(
        self, transport, row: OutboxEmail, claimed_at: datetime, recorded: asyncio.Task | None
    ) -> asyncio.Task | None:
        """Send one claimed row and record the outcome (sent, split, failed or deferred); once
        `recorded` (the last email's commit) is done, the transport sends the content.
        Returns the commit of this email when it was sent (under way)."""
        policy, outbox, owner = self.policy, self.outbox, self.owner
        # The lease was taken when the row was claimed; on a slow server, renew it before the send
        # once half of it has gone, or another sender could take this row too.
        if self.clock() - claimed_at > self.lease / 2 and not await self.run(
            outbox.renew, row.id, owner, self.clock() + self.lease
        ):
            return None  # its lease ran out and another sender has it now
        try:
            failed = await _attempt(transport, self.sender, row, recorded)
        except BaseException:
            # Cancelled (shutdown) or a bug: this row goes back (the rows still queued are released
            # by the pass); the same bytes are sent again later (at-least-once, SPEC section 4).
            log.warning("subscriber=%s interrupted=1 may_arrive_twice=1", row.email)
            await self.run(outbox.email_deferred, row.id, owner, "interrupted", None)
            raise
        if failed is None:
            self.failures = 0
            self.accepted.add(row.id)
            task = asyncio.ensure_future(self._record_sent(row))
            self.recording.add(task)
            task.add_done_callback(self.recording.discard)
            return task
        if isinstance(failed, MessageTooBigError) and row.papers > 1:
            made = await self.split(row, owner)
            if made:  # the parts are due now: this or another worker sends them next
                self.deferred.pop(row.id, None)
                self.added()
                log.warning(
                    "subscriber=%s too_big=%r papers=%d split_into=%d",
                    row.email,
                    failed.reply,
                    row.papers,
                    made,
                )
                return None
        self.failures += 1
        if not isinstance(failed, PermanentSendError) and _too_old(row, self.clock(), policy):
            failed = PermanentSendError(
                str(failed),
                f"not accepted for {policy.give_up_after / 86400:g} days: {failed}",
            )
        # Counted and checked at once: another worker's failure must not slip in between.
        if self.failures >= policy.breaker and self.report.stopped is None:
            self.report.stopped = f"{self.failures} failures in a row; the rest stays pending"
            log.error("sending=stopped failures_in_a_row=%d last=%r", self.failures, str(failed))
        if isinstance(failed, PermanentSendError):
            await self.run(outbox.email_failed, row.id, failed.reply, self.clock())
            if isinstance(failed, RecipientRefusedError):  # the address: counts to suspend it
                await self.run(self.recipients.refused, row.email, failed.reply, self.clock())
            self.deferred.pop(row.id, None)
            self.report.failed.append(f"{row.email}: refused: {failed.reply}")
            log.error("subscriber=%s refused=%r", row.email, failed.reply)
        else:
            retry_at = self.clock() + timedelta(seconds=policy.delay(row.attempts, self.rng))
            await self.run(outbox.email_deferred, row.id, owner, str(failed), retry_at)
            self.deferred[row.id] = f"{row.email}: {failed}"
            log.warning(
                "subscriber=%s deferred=%r attempt=%d retry_at=%s",
                row.email,
                str(failed),
                row.attempts,
                retry_at.isoformat(timespec="seconds"),
            )

    async def _record_sent(self, row: OutboxEmail) -> None:
        """The server accepted `row`: it and its deliveries become sent (one commit)."""
        await self.run(self.outbox.emails_sent, [row.id], self.clock())
        self.accepted.discard(row.id)
        self.deferred.pop(row.id, None)
        self.report.emails += 1
        self.report.papers += row.papers
        log.info(
            "subscriber=%s sent papers=%d message_id=%s attempt=%d",
            row.email,
            row.papers,
            row.message_id,
            row.attempts,
        )

    async def _commit_sent(self) -> None:
        if self.accepted:
            done = sorted(self.accepted)  # workers may add more while this commits
            await self.run(self.outbox.emails_sent, done, self.clock())
            self.accepted.difference_update(done)  # only once recorded: else tried again at the end


def _too_old(row: OutboxEmail, now: datetime, policy: RetryPolicy) -> bool:
    """True when a temporary failure of `row` is the last one allowed (SPEC section 4)."""
    made = row.created_at
    return made is not None and (now - made).total_seconds() >= policy.give_up_after


async def _attempt(
    transport, sender: str, row: OutboxEmail, ready: asyncio.Task | None
) -> SendError | None:
    """Send one claimed email; None when the server accepted it, else the SendError."""
    if ready is not None and ready.done():
        ready.result()  # raises what a failed commit raised: this worker stops
        ready = None
    try:
        if ready is None:
            await transport.send(sender, row.email, row.data)
        else:
            await transport.send(sender, row.email, row.data, ready=ready)
    except SendError as exc:
        return exc
    return None

"""How hard the sender tries (`RetryPolicy`) and what a send run reports (`SendReport`)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["RetryPolicy", "SendReport"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Delays in seconds; the n-th retry waits base*2^(n-1) (at most cap) minus up
    to `jitter` of it, so many deferred emails do not all come back at the same instant."""

    base: float = 10.0
    cap: float = 6 * 3600.0
    jitter: float = 0.5
    # Retry within this run when the next attempt is due this soon (0: never wait in the run).
    # Short, so one greylisted recipient holds a run up by half a minute at most.
    linger: float = 30.0
    breaker: int = 3  # consecutive failures that end the run (server down, login refused)
    lease: float = 900.0  # a claimed email is ours this long (RFC 5321 DATA timeout is 600 s)
    quarantine_after: int = 3  # failed renders before a paper is quarantined (Mailman)
    # SPEC section 4: an email still failing temporarily this long after it was made is failed
    # with the last reply (Postfix's maximal_queue_lifetime, 5 days, does the same).
    give_up_after: float = 5 * 86400.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        full = min(self.cap, self.base * 2 ** max(attempts - 1, 0))
        return full * (1 - self.jitter * rng.random())


@dataclass(slots=True)
class SendReport:
    """A send run: emails sent, papers in them, and one line per problem left at the end."""

    emails: int = 0
    papers: int = 0
    deferred: list[str] = field(default_factory=list)  # still pending, will be retried
    failed: list[str] = field(default_factory=list)  # refused for good, or cannot be built
    quarantined: list[str] = field(default_factory=list)  # papers that can never be built
    stopped: str | None = None  # why the breaker ended the run
